"""Fixtures for engine tests: one engine and one redis-server per session, a fresh
keyspace and fresh connections per test, and ``diff`` to compare their replies."""

from __future__ import annotations

from typing import Iterator

import pytest

from .rawclient import RawClient
from .servers import Proc, engine_process, redis_process


@pytest.fixture(scope="session")
def engine_proc() -> Iterator[Proc]:
    with engine_process() as proc:
        yield proc


@pytest.fixture(scope="session")
def redis_proc() -> Iterator[Proc]:
    with redis_process() as proc:
        yield proc


class Differ:
    """Sends each command to redis-server and to the engine; replies must be equal bytes."""

    def __init__(self, redis_port: int, engine_port: int) -> None:
        self.ref = RawClient(redis_port)
        self.eng = RawClient(engine_port)
        self.transcript: list[str] = []

    def close(self) -> None:
        self.ref.close()
        self.eng.close()

    def __call__(self, *args: bytes | str | int) -> bytes:
        """Run one command on both; assert identical replies; return the reply."""
        expected = self.ref.call(*args)
        got = self.eng.call(*args)
        self.transcript.append(" ".join(a if isinstance(a, str) else repr(a) for a in args))
        assert got == expected, (
            f"reply differs for {args!r}\n  redis:  {expected!r}\n  engine: {got!r}\n"
            f"  after: {self.transcript[-6:-1]}"
        )
        return got

    def many(self, script: str) -> None:
        """One inline-style command per line (split like redis-cli: shlex quoting)."""
        import shlex

        for line in script.strip().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                self(*shlex.split(line))

    def raw(self, data: bytes) -> tuple[bytes, bytes]:
        self.ref.send(data)
        self.eng.send(data)
        return self.ref.read_frame(), self.eng.read_frame()

    def resp3(self) -> None:
        self.ref.call("HELLO", "3")
        self.eng.call("HELLO", "3")


@pytest.fixture
def diff(redis_proc: Proc, engine_proc: Proc) -> Iterator[Differ]:
    for port in (redis_proc.port, engine_proc.port):
        with RawClient(port) as c:
            assert c.call("FLUSHALL") == b"+OK\r\n"
    d = Differ(redis_proc.port, engine_proc.port)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def raw(engine_proc: Proc) -> Iterator[RawClient]:
    with RawClient(engine_proc.port) as c:
        c.call("FLUSHALL")
        yield c
