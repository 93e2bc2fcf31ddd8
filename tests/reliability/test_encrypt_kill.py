"""Kill ``audit encrypt`` and ``audit rekey`` at random moments: the database is always whole.

Each round starts the real command on the file as the last round left it
(``encrypt`` if it is plain, ``rekey`` to the other passphrase if it is
encrypted), SIGKILLs it after a random delay spread over a whole run, and then
requires the file to be either the old one or the new one: plain with the
original content, or encrypted under one of the two passphrases with the same
content; never missing, never unreadable, never half of each. AUDIT_KILLS
scales the rounds (a tenth of it, at least 12; ``make soak`` runs 100).

Temporary files a killed run leaves beside the database (the copy, or the old
file under a second name) are overwritten and removed by the next run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.crypto_support import (
    AUDIT, OTHER_PASSPHRASE, PASSPHRASE, ROOT, content, files_in, make_site, passphrase_file, plain_content,
)

ROUNDS = max(12, int(os.environ.get("AUDIT_KILLS", "100")) // 10)


def state(db: Path, original: dict) -> str:
    """'plain', 'encrypted-1' or 'encrypted-2': which whole database is at ``db``; fails on anything else."""
    assert db.exists(), "the database is gone"
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        readable = True
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "a damaged plain file"
    except sqlite3.DatabaseError:
        readable = False
    finally:
        conn.close()
    if readable:
        assert plain_content(db) == original, "a plain file that is not the original"
        return "plain"
    from audit import crypto

    for name, passphrase in (("encrypted-1", PASSPHRASE), ("encrypted-2", OTHER_PASSPHRASE)):
        conn = crypto.connect(str(db), None)
        conn.execute(f"PRAGMA key = '{passphrase}'")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            found = content(conn)
        except sqlite3.DatabaseError:
            continue
        finally:
            conn.close()
        assert found == original, f"an {name} file whose content is not the original's"
        return name
    raise AssertionError(f"{db} is neither the plain database nor an encrypted one that opens")


def command_for(current: str, db: Path, first: Path, second: Path) -> list[str]:
    if current == "plain":
        return ["encrypt", str(db), "--passphrase-file", str(first)]
    old, new = (first, second) if current == "encrypted-1" else (second, first)
    return ["rekey", str(db), "--passphrase-file", str(old), "--new-passphrase-file", str(new)]


def test_killing_encrypt_or_rekey_never_loses_the_database(tmp_path, thematic_rubric):
    (tmp_path / "template").mkdir()
    template = make_site(tmp_path / "template" / "site.db", thematic_rubric, cases=60)
    original = plain_content(template)
    db = tmp_path / "site.db"
    shutil.copy(template, db)
    first = passphrase_file(tmp_path, PASSPHRASE, name="first")
    second = passphrase_file(tmp_path, OTHER_PASSPHRASE, name="second")
    # how long each whole run takes here, so that kills land all over it (rekey derives two keys)
    duration = {}
    for expected in ("plain", "encrypted-1", "encrypted-2"):
        assert state(db, original) == expected
        start = time.monotonic()
        done = subprocess.run([*AUDIT, *command_for(expected, db, first, second)], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        duration[expected] = time.monotonic() - start
    seen = {"unchanged": 0, "changed": 0}
    rng = random.Random(20190603)
    current = state(db, original)
    for _ in range(ROUNDS):
        if current != "plain" and rng.random() < 0.4:  # start again from the plain file: kill encrypt too
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            shutil.copy(template, db)
            current = "plain"
        child = subprocess.Popen([*AUDIT, *command_for(current, db, first, second)], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.4, 1.1) * duration[current])
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate()
        assert "Traceback" not in err, err
        after = state(db, original)
        seen["changed" if after != current else "unchanged"] += 1
        current = after
    # a finished run clears what the killed ones left: no temporary file, no old copy of the data
    final = subprocess.run([*AUDIT, *command_for(current, db, first, second)], cwd=ROOT, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert state(db, original) != current
    leftovers = [name for name in files_in(tmp_path) if name.startswith(".")]
    assert leftovers == [], leftovers
    print(f"{ROUNDS} kills: {seen['unchanged']} left the old file, {seen['changed']} the new one")
