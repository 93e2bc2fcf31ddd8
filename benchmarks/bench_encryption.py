"""Encryption at rest: what SQLCipher costs a keypress, and what opening an encrypted database costs.

* Keypress -> answer saved, in the real UI (Pilot), on an encrypted database
  against the same database unencrypted, in the same run (goal: <= 1.5x). Timed
  from the moment the app dispatches the key to the walk-through's
  ``AnswerSaved`` message (posted once the answer is committed).
* The same save without the UI (``Store.set_answer``: the case service, one
  evaluation, the commit), encrypted against plain: SQLCipher's share alone.
* Opening an encrypted 100k-case database (``Store.open_read_only``, what every
  read-only command does) against opening it unencrypted. The passphrase's key
  derivation (PBKDF2-HMAC-SHA512, 256,000 iterations) is slow on purpose, once
  per file and process; it is measured alone, and opening with the key already
  derived is measured too (the UI's worker connections, every later connection).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from textual import events
from textual.message import Message

from audit import crypto
from audit.crypto import KEYRING
from audit.encryption import encrypt_in_place
from audit.store import Store
from audit.tui.app import AuditApp
from audit.tui.screens.walkthrough import WalkthroughScreen
from benchmarks.common import Result, best_of, core_rubric, make_database, p95, wide_rubric

PASSPHRASE = "correct horse battery staple"
SIZE = (120, 40)


def _encrypted_copy(plain: Path, encrypted: Path) -> Path:
    encrypted.write_bytes(plain.read_bytes())  # a file no connection has open
    KEYRING.reset()
    encrypt_in_place(encrypted, lambda: crypto.new_key(PASSPHRASE))
    return encrypted


def _unlock(path: Path, passphrase_file: Path) -> None:
    KEYRING.reset()
    KEYRING.passphrase_files = [passphrase_file]
    Store.open_read_only(path).close()


async def _keypress_to_saved(path: Path) -> list[float]:
    """Answer the newest case's questions by key: "1" on single choices (timed), numbers and multi-choices too."""
    samples: list[float] = []
    key_at: dict[str, float] = {}
    timing = {"on": False}

    def hook(message: Message) -> None:
        if isinstance(message, events.Key) and timing["on"] and "t" not in key_at:
            key_at["t"] = time.perf_counter()
        elif isinstance(message, WalkthroughScreen.AnswerSaved) and "t" in key_at:
            samples.append(time.perf_counter() - key_at.pop("t"))

    app = AuditApp(path, check_integrity=False)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.press("enter")  # the case edited last: the one made for this run
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, WalkthroughScreen)
        while True:
            question = screen.rubric.question(screen.current)
            before = screen.current
            if question.is_choice and question.type != "multi":
                key_at.clear()
                timing["on"] = True
                await pilot.press("1")
                await pilot.pause()
                timing["on"] = False
            else:
                await pilot.press("1" if question.type == "multi" else "5", "enter")
            await pilot.pause()
            if screen.current == before:
                break
    return samples


def _ui_answers(path: Path, passphrase_file: Path | None) -> list[float]:
    KEYRING.reset()
    if passphrase_file is not None:
        KEYRING.passphrase_files = [passphrase_file]
    rubric = wide_rubric(200)
    with Store.open(path) as store:
        store.create_case(f"K{time.monotonic_ns()}", "sheffield", rubric, "bench")
    return asyncio.run(_keypress_to_saved(path))


def _service_saves(path: Path, passphrase_file: Path | None, count: int = 300) -> list[float]:
    KEYRING.reset()
    if passphrase_file is not None:
        KEYRING.passphrase_files = [passphrase_file]
    rubric = wide_rubric(200)
    store = Store.open(path)
    try:
        case = store.create_case(f"S{time.monotonic_ns()}", "sheffield", rubric, "bench")
        choices = [q for q in (rubric.question(qid) for qid in rubric.evaluation_order)
                   if q.is_choice and q.type != "multi" and q.rule is None and rubric.section_of(q.id).rule is None]
        samples = []
        for index in range(count):
            question = choices[index % len(choices)]
            value = question.option_codes[index % len(question.option_codes)]
            start = time.perf_counter()
            store.set_answer(case.uuid, question.id, value, who="bench")
            samples.append(time.perf_counter() - start)
        return samples
    finally:
        store.close()


def answering(workdir: Path, secret: Path) -> list[Result]:
    rubric = wide_rubric(200)
    plain = make_database(workdir / "keys-plain.db", rubric, 1_000)
    encrypted = _encrypted_copy(plain, workdir / "keys-encrypted.db")
    results = []
    ui = {name: [] for name in ("plain", "encrypted")}
    service = {name: [] for name in ("plain", "encrypted")}
    for _ in range(2):  # interleaved, so that other load on the machine falls on both
        ui["plain"] += _ui_answers(plain, None)
        ui["encrypted"] += _ui_answers(encrypted, secret)
        service["plain"] += _service_saves(plain, None)
        service["encrypted"] += _service_saves(encrypted, secret)
    ms = {name: [s * 1000 for s in values] for name, values in ui.items()}
    results.append(Result(f"keypress -> saved, encrypted, median ({len(ms['encrypted'])} answers)",
                          statistics.median(ms["encrypted"]), statistics.median(ms["plain"]), "<= 1.5x", unit="ms"))
    results.append(Result("  same, p95", p95(ms["encrypted"]), p95(ms["plain"]), "<= 1.5x", unit="ms"))
    saves = {name: [s * 1000 for s in values] for name, values in service.items()}
    results.append(Result(f"Store.set_answer, encrypted, median ({len(saves['encrypted'])} saves)",
                          statistics.median(saves["encrypted"]), statistics.median(saves["plain"]), "<= 1.5x", unit="ms"))
    results.append(Result("  same, p95", p95(saves["encrypted"]), p95(saves["plain"]), "<= 1.5x", unit="ms"))
    return results


def opening(workdir: Path, secret: Path, cases: int = 100_000) -> list[Result]:
    plain = make_database(workdir / "open-plain.db", core_rubric(), cases)
    started = time.perf_counter()
    encrypted = _encrypted_copy(plain, workdir / "open-encrypted.db")
    encrypt_seconds = time.perf_counter() - started
    salt = crypto.file_salt(encrypted)

    def plain_open() -> None:
        KEYRING.reset()
        Store.open_read_only(plain).close()

    def derive() -> None:
        KEYRING.reset()  # forgets every key derived so far
        crypto.derive(PASSPHRASE, salt)

    def encrypted_open() -> None:
        _unlock(encrypted, secret)

    _unlock(encrypted, secret)

    def keyed_open() -> None:  # the key already derived: a worker's connection, any later open
        Store.open_read_only(encrypted).close()

    floor = best_of(plain_open, 5)
    return [
        Result(f"open an encrypted {cases // 1000}k-case database (passphrase)", best_of(encrypted_open, 5), floor,
               "informational: the key derivation is slow on purpose"),
        Result("  the key derivation alone (PBKDF2-HMAC-SHA512, 256,000)", best_of(derive, 5), None, "0.2-1 s, on purpose"),
        Result("  open again, key already derived", best_of(keyed_open, 5), floor, "<= 1.5x"),
        Result(f"  audit encrypt of the {cases // 1000}k-case database (once)", encrypt_seconds, None, "informational"),
    ]


def run(workdir: Path) -> list[Result]:
    secret = workdir / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    os.chmod(secret, 0o600)
    try:
        return answering(workdir, secret) + opening(workdir, secret)
    finally:
        KEYRING.reset()
