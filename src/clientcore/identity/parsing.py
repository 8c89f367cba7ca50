"""Parsing many identifier keys on both cores: this process and a helper share the list.

The libraries (phonenumbers, email-validator) are pure Python, one core each. Given a long
list of keys, a helper process works from its end while this process works from its start,
each taking a chunk at a time, until they meet: whichever core is less busy (the machine may
be shared) takes more. The helper is a fresh interpreter importing only the normalizers:
spawning through multiprocessing would re-import the caller's main module (the whole CLI),
and forking would copy the engine's threads.

Run as `python -m clientcore.identity.parsing`, this module is the helper. It reads
(region, [(normalizer, key)]) and answers (start, [value]) for each chunk it parsed, all as
length-prefixed pickles, and stops when this process closes its input.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import subprocess
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from clientcore.identity.normalize import Normalizers, parse_key
from clientcore.identity.spec import Normalizer

# From this many distinct keys to parse (a second or so of work), a helper shares them.
PARALLEL_ABOVE = 20_000
CHUNK = 500  # keys per turn: a few tens of milliseconds
_LENGTH = struct.Struct("<Q")


def _frame(message: object) -> bytes:
    payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


class _Frames:
    """Length-prefixed pickles arriving on a pipe, read without blocking."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.ended = False

    def read(self, wait: bool = False) -> list[Any]:
        """The messages that arrived so far; with `wait`, all of them until the pipe ends."""
        while not self.ended:
            ready, _, _ = select.select([self.fd], [], [], None if wait else 0)
            if not ready:
                break
            data = os.read(self.fd, 1 << 20)
            if not data:
                self.ended = True
            self.buffer += data
        messages = []
        while len(self.buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self.buffer)
            if len(self.buffer) < _LENGTH.size + size:
                break
            messages.append(pickle.loads(self.buffer[_LENGTH.size : _LENGTH.size + size]))
            del self.buffer[: _LENGTH.size + size]
        return messages


def parse_keys(items: Sequence[tuple[Normalizer, str]], normalizers: Normalizers) -> None:
    """Parse the distinct keys the normalizers do not know yet into their cache."""
    todo = [item for item in dict.fromkeys(items) if not normalizers.known(*item)]
    if len(todo) < PARALLEL_ABOVE:
        for kind, key in todo:
            normalizers.by_key(kind, key)
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    helper = subprocess.Popen(
        [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    if helper.stdin is None or helper.stdout is None:  # pragma: no cover - both are pipes
        raise RuntimeError("the normalization helper has no pipes")
    try:
        helper.stdin.write(_frame((normalizers.region, todo)))
        helper.stdin.flush()
    except BrokenPipeError:
        pass  # it died at once: this process parses everything, and says so below
    answers = _Frames(helper.stdout.fileno())
    parsed: list[tuple[int, list[str | None]]] = []
    front, back = 0, len(todo)  # this process did [0, front); the helper did [back, end)
    try:
        while True:
            for start, values in answers.read():
                parsed.append((start, values))
                back = min(back, start)
            if front >= back:
                break
            end = min(front + CHUNK, back)
            for kind, key in todo[front:end]:
                normalizers.by_key(kind, key)
            front = end
    finally:
        with contextlib.suppress(BrokenPipeError):
            helper.stdin.close()  # the helper stops after its current chunk
        parsed.extend(answers.read(wait=True))
        helper.stdout.close()
        code = helper.wait()
    for start, values in parsed:
        for (kind, key), value in zip(todo[start : start + len(values)], values, strict=True):
            normalizers.learn(kind, key, value)
    if code != 0:
        warnings.warn(
            f"the normalization helper failed (exit code {code}); this process parsed alone",
            RuntimeWarning,
            stacklevel=2,
        )


def _read_exactly(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the parsing process closed the pipe early")
        data += chunk
    return bytes(data)


def _help(fd_in: int = 0, fd_out: int = 1) -> None:
    """The helper's side: parse chunks from the end of the list until told to stop."""
    (size,) = _LENGTH.unpack(_read_exactly(fd_in, _LENGTH.size))
    region, items = pickle.loads(_read_exactly(fd_in, size))
    out = os.fdopen(fd_out, "wb")
    back = len(items)
    while back > 0:
        stop, _, _ = select.select([fd_in], [], [], 0)
        if stop:  # the other process closed our input: it has parsed the rest
            break
        start = max(0, back - CHUNK)
        out.write(
            _frame((start, [parse_key(kind, key, region) for kind, key in items[start:back]]))
        )
        out.flush()
        back = start
    out.close()


if __name__ == "__main__":
    _help()
