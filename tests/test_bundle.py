"""Encrypted hand-over (issue #13): keygen, bundle, and merge --identity.

A bundle merged gives exactly what merging the site's file gives; a bundle
that was altered, cut short, or made for another key is refused with one line,
and nothing is merged; the decrypted copy never outlives the merge.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from audit.bundle import read_recipients
from audit.cli import main
from tests.crypto_support import (  # noqa: F401 (fresh_keyring: a fixture every test here uses)
    PASSPHRASE, encrypted_content, files_in, fresh_keyring, make_site, passphrase_file, plain_content, plaintext_found,
    refused, sha256,
)


@pytest.fixture(autouse=True)
def private_temp(tmp_path, monkeypatch):
    """Decrypted files go to a folder this test can look into afterwards."""
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory, thematic_rubric) -> Path:
    return make_site(tmp_path_factory.mktemp("site") / "site.db", thematic_rubric)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lead")
    assert main(["keygen", "-o", str(folder / "lead.key")]) == 0
    return folder / "lead.key", folder / "lead.pub"


@pytest.fixture(scope="module")
def bundle(site, keys, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "site-2019-06.audit.age"
    assert main(["bundle", str(site), "--to", str(keys[1]), "-o", str(out)]) == 0
    return out


def comparable(path: Path, site_path: Path) -> dict:
    """A merged national database's content, with the source's file name as a placeholder."""
    found = plain_content(path)
    for table in ("cases", "history", "history_data", "merges"):
        found[table] = sorted(tuple(cell.replace(str(site_path), "SOURCE") for cell in row) for row in found[table])
    found["rubrics"] = [row[:5] for row in found["rubrics"]]  # not added_at, the time of the merge
    # the history rows the merge itself wrote carry its own time
    found["history"] = [row[:7] + ("WHEN",) + row[8:] if row[8] == "'merge'" else row for row in found["history"]]
    found["history_data"] = [row[:7] + ("WHEN",) + row[8:] if row[8] == "'merge'" else row for row in found["history_data"]]
    found["merges"] = [row[2:] for row in found["merges"]]  # not id and merged_at
    # the change token is random per write (docs/merge.md, watermarks), like the database id
    found["meta"] = [row for row in found["meta"] if not any(k in row[0] for k in ("db_uuid", "created_at", "change_id"))]
    return found


# --- keys ---------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_and_its_public_key(keys, capsys, tmp_path):
    key, pub = keys
    assert oct(key.stat().st_mode & 0o777) == "0o600" and oct(pub.stat().st_mode & 0o777) == "0o600"
    lines = key.read_text().splitlines()
    assert lines[0].startswith("# created: ") and lines[1] == f"# public key: {pub.read_text().strip()}"
    assert lines[2].startswith("AGE-SECRET-KEY-1") and pub.read_text().startswith("age1")
    from pyrage import x25519

    assert str(x25519.Identity.from_str(lines[2]).to_public()) == pub.read_text().strip()
    # never written over: the bundles made for a key would be lost with it
    copy = tmp_path / "lead.key"
    shutil.copy(key, copy)
    refused(["keygen", "-o", str(copy)], capsys, "already exists")
    assert copy.read_bytes() == key.read_bytes() and not (tmp_path / "lead.pub").exists()


def test_the_public_key_is_read_from_a_file_or_given_itself_and_a_private_key_is_refused(keys, tmp_path):
    key, pub = keys
    recipient = pub.read_text().strip()
    assert len(read_recipients([str(pub)])) == 1 and len(read_recipients([recipient])) == 1
    from audit.errors import AuditError

    with pytest.raises(AuditError, match="that is a private key"):
        read_recipients([str(key)])
    with pytest.raises(AuditError, match="is not an age public key"):
        read_recipients(["age1notakey"])


# --- a bundle -------------------------------------------------------------------------------------


def test_a_bundle_holds_nothing_readable(bundle, site):
    assert plaintext_found(site)
    assert plaintext_found(bundle) == []
    assert bundle.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"


def test_merging_a_bundle_equals_merging_the_site_file(bundle, site, keys, tmp_path, private_temp, capsys):
    by_file, by_bundle = tmp_path / "by-file.db", tmp_path / "by-bundle.db"
    assert main(["merge", str(by_file), str(site)]) == 0
    assert main(["merge", str(by_bundle), str(bundle), "--identity", str(keys[0])]) == 0
    out = capsys.readouterr()
    assert str(bundle) in out.out  # the lead sees the bundle's name, not a temporary file's
    assert comparable(by_bundle, bundle) == comparable(by_file, site)
    origins = {row[0] for row in sqlite3.connect(by_bundle).execute("SELECT DISTINCT origin_file FROM cases")}
    assert origins == {str(bundle.resolve())}
    assert files_in(private_temp) == []  # the decrypted copy is gone
    # merging it again changes nothing
    assert main(["merge", str(by_bundle), str(bundle), "--identity", str(keys[0])]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_a_bundle_of_an_encrypted_database_merges_into_an_encrypted_national_one(site, keys, tmp_path, capsys):
    secret = passphrase_file(tmp_path)
    encrypted = tmp_path / "site.db"
    shutil.copy(site, encrypted)
    assert main(["encrypt", str(encrypted), "--passphrase-file", str(secret)]) == 0
    bundle = tmp_path / "site.audit.age"
    assert main(["bundle", str(encrypted), "--to", str(keys[1]), "-o", str(bundle), "--passphrase-file", str(secret)]) == 0
    assert plaintext_found(bundle) == []
    national = tmp_path / "national.db"
    assert main(["merge", str(national), str(bundle), "--identity", str(keys[0]), "--encrypt", "--passphrase-file",
                 str(secret)]) == 0
    assert plaintext_found(national) == []
    by_file = tmp_path / "by-file.db"
    assert main(["merge", str(by_file), str(site)]) == 0
    ours = encrypted_content(national, PASSPHRASE)
    assert ours["answers"] == plain_content(by_file)["answers"]


@pytest.mark.parametrize("damage", ["flip in the header", "flip in the middle", "flip in the last byte", "cut short",
                                    "cut at a chunk", "empty", "another key", "not a bundle"])
def test_a_damaged_bundle_is_refused_and_nothing_is_merged(bundle, site, keys, tmp_path, damage, private_temp, capsys):
    data = bytearray(bundle.read_bytes())
    bad = tmp_path / "bad.audit.age"
    identity = keys[0]
    if damage == "flip in the header":
        data[40] ^= 0x01
    elif damage == "flip in the middle":
        data[len(data) // 2] ^= 0x20
    elif damage == "flip in the last byte":
        data[-1] ^= 0x80
    elif damage == "cut short":
        data = data[: len(data) - 100]
    elif damage == "cut at a chunk":
        data = data[: 200 + 65536]
    elif damage == "empty":
        data = bytearray()
    elif damage == "another key":
        assert main(["keygen", "-o", str(tmp_path / "other.key")]) == 0
        identity = tmp_path / "other.key"
    elif damage == "not a bundle":
        data = bytearray(site.read_bytes())
    bad.write_bytes(bytes(data))
    national = tmp_path / "national.db"
    assert main(["merge", str(national), str(site)]) == 0  # an existing target, left exactly as it was
    capsys.readouterr()
    before, listing = sha256(national), files_in(tmp_path)
    refused(["merge", str(national), str(bad), "--identity", str(identity)], capsys, f"{bad}: cannot be opened with",
            "nothing was merged")
    assert sha256(national) == before and files_in(tmp_path) == listing
    assert files_in(private_temp) == []
    # and into a new target: nothing made
    refused(["merge", str(tmp_path / "new.db"), str(bad), "--identity", str(identity)], capsys, "nothing was merged")
    assert not (tmp_path / "new.db").exists()


def test_a_bundle_needs_the_leads_key_kept_private(bundle, keys, tmp_path, capsys):
    refused(["merge", str(tmp_path / "n.db"), str(bundle)], capsys, "give the lead's key with --identity")
    loose = tmp_path / "loose.key"
    shutil.copy(keys[0], loose)
    os.chmod(loose, 0o644)
    refused(["merge", str(tmp_path / "n.db"), str(bundle), "--identity", str(loose)], capsys, "can be read by others")
    refused(["merge", str(tmp_path / "n.db"), str(bundle), "--identity", str(keys[1])], capsys, "is not an age private key")
    assert not (tmp_path / "n.db").exists()


def test_a_hostile_file_is_not_bundled(site, keys, tmp_path, capsys):
    """The snapshot is checked like a backup: a site cannot bundle a file the tool could not have written."""
    hostile = tmp_path / "hostile.db"
    shutil.copy(site, hostile)
    conn = sqlite3.connect(hostile)
    conn.execute("UPDATE answer_data SET value = '999' WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'age')")
    conn.commit()
    conn.close()
    out = tmp_path / "hostile.audit.age"
    refused(["bundle", str(hostile), "--to", str(keys[1]), "-o", str(out)], capsys, "999")
    assert not out.exists()
    refused(["bundle", str(site), "--to", str(keys[1]), "-o", str(tmp_path / "site.db.bak")], capsys, "ends in .age")


def test_a_tampered_database_inside_a_valid_bundle_is_refused_by_the_merges_checks(site, keys, tmp_path, capsys):
    """Whoever holds the public key can make a valid bundle: what is inside is still checked value by value (#7)."""
    from pyrage import encrypt, x25519

    hostile = tmp_path / "hostile.db"
    shutil.copy(site, hostile)
    conn = sqlite3.connect(hostile)
    conn.execute("CREATE TRIGGER evil AFTER INSERT ON answer_data BEGIN DELETE FROM answer_data; END")
    conn.commit()
    conn.close()
    bad = tmp_path / "forged.audit.age"
    bad.write_bytes(encrypt(hostile.read_bytes(), [x25519.Recipient.from_str(keys[1].read_text().strip())]))
    refused(["merge", str(tmp_path / "n.db"), str(bad), "--identity", str(keys[0])], capsys, str(bad), "trigger")
    assert not (tmp_path / "n.db").exists()
