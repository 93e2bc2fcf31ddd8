"""A program run under a pseudo-terminal, with every byte it writes timestamped.

What a user waits for is the terminal output, not a message inside the app:
the benchmark writes key bytes to the terminal's master side and reads the
frames the app writes back. Textual brackets each frame in synchronized-output
marks (``ESC[?2026h`` ... ``ESC[?2026l``) once the terminal says it supports
them, so this terminal answers that query as most modern terminals do, and a
frame's end is the moment its closing mark arrived.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass

SYNC_START = b"\x1b[?2026h"
SYNC_END = b"\x1b[?2026l"
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"  # "supported, currently off", as xterm, kitty or WezTerm say


@dataclass(frozen=True)
class Frame:
    start: int  # offset of its opening mark in the output
    end: int  # offset just past its closing mark
    finished_at: float  # perf_counter() when the closing mark was read


class Terminal:
    """``argv`` running on a pseudo-terminal of ``columns`` x ``lines``."""

    def __init__(self, argv: list[str], columns: int, lines: int, *, env: dict[str, str] | None = None,
                 cwd: str | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        environment = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor", **(env or {})}
        environment.pop("TEXTUAL", None)  # no devtools
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=environment, cwd=cwd, start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._chunks: list[tuple[float, int]] = []  # (time read, output length after it)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:  # the program ended
                break
            if not data:
                break
            stamp = time.perf_counter()
            with self._lock:
                self.output += data
                self._chunks.append((stamp, len(self.output)))
                if SYNC_QUERY in self.output[-len(data) - len(SYNC_QUERY):]:
                    os.write(self.master, SYNC_REPLY)

    # -- input ---------------------------------------------------------------------------
    def send(self, data: bytes) -> float:
        """Write key bytes; returns the moment they were written."""
        stamp = time.perf_counter()
        os.write(self.master, data)
        return stamp

    def cpu_seconds(self) -> float:
        """CPU time the program has used so far (user + system, from /proc): what it cost, whatever
        else the machine was doing, unlike wall-clock latency."""
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # -- output --------------------------------------------------------------------------
    @property
    def length(self) -> int:
        with self._lock:
            return len(self.output)

    def time_of(self, offset: int) -> float:
        """When the byte at ``offset`` had been read."""
        with self._lock:
            for stamp, length in self._chunks:
                if length > offset:
                    return stamp
        raise ValueError("not read yet")

    def frames(self, since: int = 0) -> list[Frame]:
        with self._lock:
            data = bytes(self.output)
        frames = []
        for match in re.finditer(re.escape(SYNC_START) + b".*?" + re.escape(SYNC_END), data[since:], re.S):
            start, end = since + match.start(), since + match.end()
            frames.append(Frame(start, end, self.time_of(end - 1)))
        return frames

    def wait_for(self, pattern: bytes, since: int = 0, timeout: float = 30.0) -> int:
        """Wait until ``pattern`` is in the output after ``since``; returns the offset past it."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self._lock:
                found = self.output.find(pattern, since)
            if found >= 0:
                return found + len(pattern)
            if self.process.poll() is not None:
                break
            time.sleep(0.005)
        tail = bytes(self.output[-400:])
        raise TimeoutError(f"{pattern!r} not seen (exit {self.process.poll()}); last output: {tail!r}")

    def screen_text(self, since: int = 0) -> str:
        """The output after ``since`` with its escape sequences taken out (text only, in write order)."""
        with self._lock:
            data = bytes(self.output[since:])
        return re.sub(rb"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b\][^\x07]*\x07", b"", data).decode("utf-8", "replace")

    def wait_until(self, test, timeout: float = 30.0) -> None:
        """Wait until ``test(self)`` is true."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if test(self):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise TimeoutError(f"not seen (exit {self.process.poll()}); last text: {self.screen_text()[-400:]!r}")

    def idle(self, seconds: float = 1.0, share: float = 0.02, timeout: float = 900.0) -> None:
        """Wait until the program has used under ``share`` of a core for ``seconds`` (a background
        worker, such as the start-up check of a large file, has finished)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            before = self.cpu_seconds()
            time.sleep(seconds)
            if self.cpu_seconds() - before < share * seconds:
                return
        raise TimeoutError(f"still busy after {timeout} s")

    def quiet(self, seconds: float = 0.3, timeout: float = 30.0) -> None:
        """Wait until nothing has been written for ``seconds``."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            before = self.length
            time.sleep(seconds)
            if self.length == before:
                return

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._closed.set()
        self._reader.join(1)
        os.close(self.master)

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class KeyTiming:
    sent_at: float
    settled_at: float  # end of the last frame this key caused
    frames: int  # frames that began before the next key was sent
    bytes: int  # bytes written from this key until the next

    @property
    def latency(self) -> float:
        return self.settled_at - self.sent_at


def press_and_time(terminal: Terminal, keys: list[bytes], markers: list[bytes], interval: float = 0.05,
                   timeout: float = 10.0) -> list[KeyTiming]:
    """Send ``keys[i]`` every ``interval`` seconds; ``markers[i]`` is text that only a frame drawn after
    key ``i`` shows (the next question's number, a counter). Key ``i`` has settled at the end of the later of:
    the first frame showing its marker, and the last frame that began before key ``i + 1`` was sent (a frame
    that began later may be the next key's). Frames are counted from the key until the next is sent. When
    the app falls behind and handles two keys before drawing, both settle with the frame that shows the later."""
    start = terminal.length
    sent: list[tuple[float, int]] = []
    next_at = time.perf_counter()
    for key in keys:
        while time.perf_counter() < next_at:
            time.sleep(0.0005)
        sent.append((terminal.send(key), terminal.length))
        next_at += interval
    terminal.wait_for(markers[-1], sent[-1][1], timeout)
    terminal.quiet(0.3)
    frames = terminal.frames(start)
    timings = []
    for index, (sent_at, offset) in enumerate(sent):
        following = sent[index + 1] if index + 1 < len(sent) else (float("inf"), terminal.length)
        # a key handled before the previous key's frame was drawn shares its frame
        marked = []
        for marker in markers[index:]:
            marked = [f for f in frames if f.start >= offset and terminal.output.find(marker, f.start, f.end) >= 0]
            if marked:
                break
        if not marked:
            raise AssertionError(f"key {index}: no frame showed {markers[index]!r}")
        began = [f for f in frames if offset <= f.start and terminal.time_of(f.start) < following[0]]
        settled = max([marked[0].finished_at, *(f.finished_at for f in began)])
        timings.append(KeyTiming(sent_at, settled, len(began), following[1] - offset))
    return timings
