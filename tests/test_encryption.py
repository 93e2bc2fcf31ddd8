"""Encryption at rest (issue #13): every command on an encrypted database, and nothing readable without its passphrase.

The databases are real files, encrypted by the real commands; what is checked
is read back with SQLCipher opened the ordinary way (the passphrase, SQLCipher's
own key derivation), so a file this tool encrypts opens in any SQLCipher 4
program, and one it cannot open is not opened here either.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit import crypto
from audit.cli import main
from audit.store import Store
from tests.crypto_support import (  # noqa: F401 (fresh_keyring: a fixture every test here uses)
    AUDIT, NOTE, OTHER_PASSPHRASE, PASSPHRASE, ROOT, dump, encrypted_content, files_in, fresh_keyring, make_site,
    passphrase_file, plain_content, plaintext_found, refused, run, sha256,
)


@pytest.fixture(scope="module")
def plain(tmp_path_factory, thematic_rubric) -> Path:
    return make_site(tmp_path_factory.mktemp("plain") / "site.db", thematic_rubric)


@pytest.fixture
def secret(tmp_path) -> Path:
    return passphrase_file(tmp_path)


@pytest.fixture
def encrypted(plain, tmp_path, secret) -> Path:
    path = tmp_path / "site.db"
    shutil.copy(plain, path)
    assert main(["encrypt", str(path), "--passphrase-file", str(secret)]) == 0
    return path


# --- nothing readable --------------------------------------------------------------------------


def test_an_encrypted_file_holds_no_plaintext(plain, encrypted, secret, tmp_path, capsys):
    assert plaintext_found(plain), "the markers must be there in the plain file, or this test proves nothing"
    assert plaintext_found(encrypted) == []
    assert oct(encrypted.stat().st_mode & 0o777) == "0o600"
    # and a file opened by SQLCipher the ordinary way (the passphrase) holds the same as the plain one
    assert encrypted_content(encrypted) == plain_content(plain)


def test_answers_saved_to_an_encrypted_file_are_encrypted_in_its_wal_too(encrypted, secret):
    crypto.KEYRING.passphrase_files = [secret]
    store = Store.open(encrypted)
    try:
        case = store.list_cases()[0]
        store.set_note(case.uuid, "age", "NOTE-KESTREL written just now", who="jb")
        wal = Path(f"{encrypted}-wal")
        assert wal.stat().st_size > 0  # the change is in the -wal, not yet in the file
        assert plaintext_found(wal) == [] and b"written just now" not in wal.read_bytes()
    finally:
        store.close()
    assert plaintext_found(encrypted) == []


def test_new_encrypted_databases_hold_no_plaintext(plain, tmp_path, secret, capsys):
    """--encrypt wherever a database is made: import into a new file, merge into a new target, the UI's new file."""
    csv = tmp_path / "cases.csv"
    csv.write_text("case_ref,site,inspector,lead_agency,note:lead_agency\nREF-ZQX-900,sheffield,inspector-wren,crc,"
                   f"{NOTE}\n", encoding="utf-8")
    imported, merged, made = tmp_path / "imported.db", tmp_path / "merged.db", tmp_path / "new.db"
    key = ["--passphrase-file", str(secret)]
    assert main(["import", str(imported), str(csv), "--rubric", "iom-thematic-2019", "--encrypt", *key]) == 0
    assert main(["merge", str(merged), str(plain), "--encrypt", *key]) == 0
    crypto.KEYRING.reset()
    crypto.KEYRING.passphrase_files, crypto.KEYRING.encrypt_new = [secret], True
    Store.open(made, site="sheffield").close()
    for path in (imported, merged, made):
        assert plaintext_found(path) == [], path
        assert encrypted_content(path)["meta"], path  # opens with the passphrase, SQLCipher's way
    with Store.open_read_only(imported) as store:  # the key ring has every one of them now
        assert [c.case_ref for c in store.list_cases()] == ["REF-ZQX-900"]


# --- round trips --------------------------------------------------------------------------------


def test_encrypt_then_decrypt_gives_the_same_dump(plain, encrypted, secret, tmp_path, capsys):
    back = tmp_path / "back.db"
    assert main(["decrypt", str(encrypted), "-o", str(back), "--passphrase-file", str(secret)]) == 0
    assert "is not encrypted" in capsys.readouterr().err  # said, every time
    assert dump(back) == dump(plain)
    assert b"SQLite format 3" in back.read_bytes()[:16] and oct(back.stat().st_mode & 0o777) == "0o600"
    refused(["decrypt", str(encrypted), "-o", str(back), "--passphrase-file", str(secret)], capsys, "already exists")


def test_rekey_changes_the_passphrase_and_keeps_everything(plain, encrypted, secret, tmp_path, capsys):
    before_backup = tmp_path / "before.db"
    assert main(["backup", str(encrypted), str(before_backup), "--passphrase-file", str(secret)]) == 0
    new = passphrase_file(tmp_path, OTHER_PASSPHRASE, name="new-passphrase")
    assert main(["rekey", str(encrypted), "--passphrase-file", str(secret), "--new-passphrase-file", str(new)]) == 0
    assert encrypted_content(encrypted, OTHER_PASSPHRASE) == plain_content(plain)
    with pytest.raises(sqlite3.DatabaseError):
        encrypted_content(encrypted, PASSPHRASE)
    assert encrypted_content(before_backup, PASSPHRASE) == plain_content(plain)  # copies keep the old one
    refused(["verify", str(encrypted), "--passphrase-file", str(secret)], capsys, f"{encrypted}: wrong passphrase, or not an audit database")
    assert main(["verify", str(encrypted), "--passphrase-file", str(new)]) == 0
    assert plaintext_found(encrypted) == []


def test_encrypt_and_rekey_refuse_the_wrong_kind_of_file(plain, encrypted, secret, tmp_path, capsys):
    copy = tmp_path / "copy.db"
    shutil.copy(plain, copy)
    refused(["encrypt", str(encrypted), "--passphrase-file", str(secret)], capsys, "is already encrypted")
    refused(["rekey", str(copy), "--passphrase-file", str(secret), "--new-passphrase-file", str(secret)], capsys, "is not encrypted")
    refused(["decrypt", str(copy), "-o", str(tmp_path / "x.db")], capsys, "is not encrypted")
    assert dump(copy) == dump(plain)


def test_encrypt_follows_a_symbolic_link_and_refuses_a_file_with_other_names(plain, tmp_path, secret, capsys):
    real = tmp_path / "real.db"
    shutil.copy(plain, real)
    link = tmp_path / "link.db"
    link.symlink_to(real)
    assert main(["encrypt", str(link), "--passphrase-file", str(secret)]) == 0
    assert link.is_symlink() and plaintext_found(real) == []  # the file itself, not the link, is encrypted
    assert encrypted_content(real) == plain_content(plain)
    other = tmp_path / "other.db"
    shutil.copy(plain, other)
    os.link(other, tmp_path / "second-name.db")
    refused(["encrypt", str(other), "--passphrase-file", str(secret)], capsys, "has other names (hard links)")
    assert dump(other) == dump(plain)


def test_a_short_new_passphrase_is_refused(plain, tmp_path, capsys):
    copy = tmp_path / "copy.db"
    shutil.copy(plain, copy)
    short = passphrase_file(tmp_path, "letmein", name="short")
    refused(["encrypt", str(copy), "--passphrase-file", str(short)], capsys, "at least 12 characters")
    assert sha256(copy) == sha256(plain) and files_in(tmp_path) == ["copy.db", "short"]


def test_encrypt_refuses_a_database_another_program_has_open(plain, tmp_path, secret, capsys):
    copy = tmp_path / "copy.db"
    shutil.copy(plain, copy)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM cases').fetchone(); print('open', flush=True); time.sleep(60)", str(copy)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        refused(["encrypt", str(copy), "--passphrase-file", str(secret)], capsys, "is open in another program")
    finally:
        holder.kill()
        holder.wait()
    assert dump(copy) == dump(plain)
    assert [name for name in files_in(tmp_path) if name.startswith(".")] == []  # no temporary file left


# --- every command ------------------------------------------------------------------------------


def test_every_command_works_on_an_encrypted_database_as_on_a_plain_one(plain, encrypted, secret, tmp_path, capsys):
    key = ["--passphrase-file", str(secret)]
    same = tmp_path / "plain" / encrypted.name  # the same name: outputs name the file they counted
    same.parent.mkdir()
    shutil.copy(plain, same)

    def output(args: list[str]) -> str:
        assert main(args) == 0, (args, capsys.readouterr().err)
        # outputs name the file they counted: the two paths differ, nothing else may
        return capsys.readouterr().out.replace(str(encrypted), "DB").replace(str(same), "DB")

    # reading: the same figures from either file
    assert output(["tabulate", str(encrypted), "lead_agency", *key]) == output(["tabulate", str(same), "lead_agency"])
    for suffix in (".csv", ".md"):
        a, b = tmp_path / f"e{suffix}", tmp_path / f"p{suffix}"
        output(["export", "iom-thematic-2019", "--data", f"thematic={encrypted}", "-o", str(a), *key])
        output(["export", "iom-thematic-2019", "--data", f"thematic={same}", "-o", str(b)])
        assert a.read_text().replace(str(encrypted), "DB") == b.read_text().replace(str(same), "DB")
    assert "ok (6 cases" in output(["verify", str(encrypted), *key])
    assert "up to date" in output(["upgrade", str(encrypted), *key])
    # backup: the copy stays encrypted, opens with the same passphrase, and was checked through it
    copy = tmp_path / "copy.db"
    output(["backup", str(encrypted), str(copy), *key])
    assert plaintext_found(copy) == [] and encrypted_content(copy) == plain_content(plain)
    # import into it
    csv = tmp_path / "more.csv"
    csv.write_text("case_ref,site,lead_agency\nREF-ZQX-777,sheffield,nps\n", encoding="utf-8")
    output(["import", str(encrypted), str(csv), "--rubric", "iom-thematic-2019", *key])
    assert plaintext_found(encrypted) == []
    # merge: an encrypted source into a new plain target (with a warning), an encrypted target
    national = tmp_path / "national.db"
    assert main(["merge", str(national), str(encrypted), *key]) == 0
    assert "is not encrypted, but" in capsys.readouterr().err
    assert main(["merge", str(encrypted), str(same), *key]) == 0
    capsys.readouterr()
    assert plaintext_found(encrypted) == []
    # case-level output from an encrypted database says it is not encrypted; aggregate figures do not
    notes = tmp_path / "notes.xlsx"
    assert main(["export", "iom-thematic-2019", "--data", f"thematic={encrypted}", "-o", str(notes), "--include-notes", *key]) == 0
    assert "is not encrypted, but holds case-level data" in capsys.readouterr().err
    assert main(["export", "iom-thematic-2019", "--data", f"thematic={encrypted}", "-o", str(tmp_path / "f.xlsx"), *key]) == 0
    assert "case-level" not in capsys.readouterr().err
    # Datasette cannot read SQLCipher: the metadata command says so
    metadata = tmp_path / "metadata.yaml"
    assert main(["datasette-metadata", str(encrypted), "-o", str(metadata), *key]) == 0
    captured = capsys.readouterr()
    assert "Datasette cannot open" in captured.out + captured.err


def test_merge_sources_and_target_with_different_passphrases(plain, tmp_path, thematic_rubric, capsys):
    """Each file has its own passphrase: the result is what merging the plain files gives."""
    site_a = make_site(tmp_path / "a.db", thematic_rubric, site="surrey", prefix="REF-ZQX-A")
    site_b = make_site(tmp_path / "b.db", thematic_rubric, site="cumbria", prefix="REF-ZQX-B")
    plain_target = tmp_path / "plain-national.db"
    assert main(["merge", str(plain_target), str(plain), str(site_a), str(site_b)]) == 0
    files = {name: passphrase_file(tmp_path, f"passphrase of file {name}", name=f"{name}.pass") for name in ("t", "a", "b")}
    copies = {}
    for name, source in (("a", site_a), ("b", site_b)):
        copies[name] = tmp_path / f"enc-{name}.db"
        shutil.copy(source, copies[name])
        assert main(["encrypt", str(copies[name]), "--passphrase-file", str(files[name])]) == 0
    target = tmp_path / "national.db"
    keys = [arg for name in ("t", "a", "b") for arg in ("--passphrase-file", str(files[name]))]
    # a new encrypted target gets the first passphrase; a plain source and two encrypted ones
    assert main(["merge", str(target), str(plain), str(copies["a"]), str(copies["b"]), "--encrypt", *keys]) == 0
    capsys.readouterr()
    ours, theirs = encrypted_content(target, "passphrase of file t"), plain_content(plain_target)
    for table in ("cases", "answers", "questions", "options"):
        assert _without_paths(ours[table]) == _without_paths(theirs[table]), table
    assert [row[:5] for row in ours["rubrics"]] == [row[:5] for row in theirs["rubrics"]]  # all but added_at
    assert plaintext_found(target) == []


def _without_paths(rows: list[tuple]) -> list[tuple]:
    return sorted(tuple("PATH" if ".db" in cell else cell for cell in row) for row in rows)


# --- wrong, missing and badly kept passphrases ----------------------------------------------------


def test_a_wrong_or_missing_passphrase_changes_nothing_and_leaves_no_file(encrypted, tmp_path, capsys):
    recipient = _recipient()
    wrong = passphrase_file(tmp_path, "not the passphrase at all", name="wrong")
    shown = str(encrypted)
    before, listing = sha256(encrypted), files_in(tmp_path)
    csv = tmp_path / "more.csv"
    csv.write_text("case_ref,site\nX1,sheffield\n")
    listing = files_in(tmp_path)
    commands = [
        ["tabulate", shown, "lead_agency"], ["verify", shown], ["upgrade", shown], ["backup", shown, str(tmp_path / "b.db")],
        ["export", "iom-thematic-2019", "--data", f"thematic={shown}", "-o", str(tmp_path / "f.csv")],
        ["merge", str(tmp_path / "n.db"), shown], ["merge", shown, str(csv)], ["import", shown, str(csv), "--rubric", "iom-thematic-2019"],
        ["decrypt", shown, "-o", str(tmp_path / "p.db")], ["rekey", shown, "--new-passphrase-file", str(wrong)],
        ["encrypt", shown], ["bundle", shown, "--to", recipient, "-o", str(tmp_path / "s.age")],
        ["datasette-metadata", shown, "-o", str(tmp_path / "m.yaml")],
    ]
    for args in commands:
        refused([*args, "--passphrase-file", str(wrong)], capsys, f"{shown}: wrong passphrase, or not an audit database")
        refused(args, capsys, shown, "--passphrase-file")  # no terminal here: says how to give it
        assert sha256(encrypted) == before and files_in(tmp_path) == listing, args


def _recipient() -> str:
    from pyrage import x25519

    return str(x25519.Identity.generate().to_public())


def test_no_traceback_reaches_a_user_from_a_real_process(encrypted, tmp_path):
    wrong = passphrase_file(tmp_path, "not the passphrase at all", name="wrong")
    before = sha256(encrypted)
    for env in ({}, {crypto.PASSPHRASE_FILE_ENV: str(wrong)}):
        result = run("tabulate", str(encrypted), "lead_agency", env=env)
        assert result.returncode == 1 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert str(encrypted) in result.stderr
    assert sha256(encrypted) == before
    assert "wrong passphrase" in result.stderr and "hmac" not in result.stderr.lower()  # SQLCipher's own log is silenced


def test_passphrase_files_must_be_yours_alone(encrypted, tmp_path, capsys):
    for mode in (0o644, 0o640, 0o604, 0o660):
        loose = passphrase_file(tmp_path, PASSPHRASE, name=f"loose-{mode:o}", mode=mode)
        refused(["verify", str(encrypted), "--passphrase-file", str(loose)], capsys, "can be read by others", "chmod 600")
    for mode in (0o600, 0o400):
        kept = passphrase_file(tmp_path, PASSPHRASE, name=f"kept-{mode:o}", mode=mode)
        assert main(["verify", str(encrypted), "--passphrase-file", str(kept)]) == 0
    empty = tmp_path / "empty"
    empty.write_text("")
    os.chmod(empty, 0o600)
    refused(["verify", str(encrypted), "--passphrase-file", str(empty)], capsys, "is empty")
    refused(["verify", str(encrypted), "--passphrase-file", str(tmp_path / "missing")], capsys, "cannot be read")


def test_the_environment_names_a_file_and_never_holds_the_passphrase(encrypted, tmp_path, monkeypatch, capsys):
    kept = passphrase_file(tmp_path)
    monkeypatch.setenv(crypto.PASSPHRASE_FILE_ENV, str(kept))
    assert main(["verify", str(encrypted)]) == 0
    monkeypatch.setenv("AUDIT_PASSPHRASE", PASSPHRASE)
    refused(["verify", str(encrypted)], capsys, "never takes a passphrase from the environment")
    monkeypatch.delenv("AUDIT_PASSPHRASE")
    loose = passphrase_file(tmp_path, PASSPHRASE, name="loose", mode=0o644)
    monkeypatch.setenv(crypto.PASSPHRASE_FILE_ENV, str(loose))
    refused(["verify", str(encrypted)], capsys, "can be read by others")


def test_a_passphrase_is_never_a_command_line_argument():
    from click.testing import CliRunner

    from audit.cli import cli

    for command in ("tabulate", "encrypt", "rekey", "merge", "bundle"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert "--passphrase-file" in result.output or command == "bundle"
        assert "--passphrase " not in result.output and "--password" not in result.output and "--key " not in result.output


def test_the_passphrase_is_asked_on_the_terminal_without_echo(encrypted, plain, tmp_path):
    """A real terminal (a pty): the prompt, nothing echoed, a wrong answer asked again, twice when it is set."""
    first = _on_a_terminal(["verify", str(encrypted)], ["not it at all", PASSPHRASE])
    assert first.count(f"Passphrase for {encrypted}:") == 2 and "wrong passphrase" in first
    assert PASSPHRASE not in first and "not it at all" not in first  # no echo
    assert "ok (6 cases" in first
    copy = tmp_path / "copy.db"
    shutil.copy(plain, copy)
    mismatch = _on_a_terminal(["encrypt", str(copy)], [PASSPHRASE, PASSPHRASE + "x"])
    assert "New passphrase for" in mismatch and "The same passphrase again" in mismatch and "differ" in mismatch
    assert sha256(copy) == sha256(plain)
    done = _on_a_terminal(["encrypt", str(copy)], [PASSPHRASE, PASSPHRASE])
    assert "encrypted" in done and PASSPHRASE not in done
    assert encrypted_content(copy) == plain_content(plain)


PROMPTS = (b"Passphrase for ", b"New passphrase for ", b"The same passphrase again")


def _on_a_terminal(args: list[str], answers: list[str], timeout: float = 120) -> str:
    """Run the command with a pty as its controlling terminal; type each answer once its prompt is shown
    (typed earlier, it would be echoed: the terminal echoes until getpass turns that off)."""
    import pty
    import select
    import signal

    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as a shell's would be
        os.chdir(ROOT)
        os.execv(sys.executable, [*AUDIT, *args])
    out, pending, deadline = b"", list(answers), time.monotonic() + timeout
    answered = 0
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            shown = sum(out.count(prompt) for prompt in PROMPTS)
            if pending and shown > answered and out.rstrip().endswith(b":"):
                answered += 1
                os.write(fd, pending.pop(0).encode() + b"\n")
    finally:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return out.decode("utf-8", "replace")


# --- outputs never over an encrypted database -------------------------------------------------------


def test_an_export_never_replaces_an_encrypted_database(encrypted, plain, tmp_path, capsys):
    before = sha256(encrypted)
    target = tmp_path / "figures.csv"
    shutil.copy(encrypted, target)
    refused(["export", "iom-thematic-2019", "--data", f"thematic={plain}", "-o", str(target)], capsys,
            "may be an encrypted audit database")
    assert sha256(target) == before


def test_a_random_file_is_not_mistaken_for_an_encrypted_database(tmp_path, capsys):
    """Whole pages of random bytes could be an encrypted file: asked for, and refused honestly; a text file is not."""
    noise = tmp_path / "noise.db"
    noise.write_bytes(os.urandom(8192))
    secret = passphrase_file(tmp_path)
    refused(["verify", str(noise), "--passphrase-file", str(secret)], capsys, "wrong passphrase, or not an audit database")
    text = tmp_path / "notes.db"
    text.write_text("x" * 5000)
    refused(["verify", str(text), "--passphrase-file", str(secret)], capsys, "is not an audit database (not an SQLite file")
