"""Shared pieces of the crash tests: a client that writes through redis-py's
RedisCluster and remembers exactly which writes were acknowledged, and the check
of those writes against what a cluster holds after its failures."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.cluster import RedisCluster

from sandbox.engine.supervisor import Supervisor


@dataclass
class Ledger:
    acked: list[int] = field(default_factory=list)  # ids of SETs that got OK
    incr_acked: int = 0  # INCRs that got a reply
    incr_sent: int = 0  # INCRs sent (acked or not)
    errors: int = 0


class Writer(threading.Thread):
    """Writes SET w:<n> <n> and INCR counter in a loop until stopped; an error is
    retried with a new id (the old one may or may not have committed)."""

    def __init__(self, ports: int | list[int], prefix: str = "w", password: str | None = None) -> None:
        super().__init__(daemon=True)
        # Every node is a starting point, as a configuration endpoint would be.
        self.ports = [ports] if isinstance(ports, int) else list(ports)
        self.prefix = prefix
        self.password = password
        self.ledger = Ledger()
        self.stop_flag = threading.Event()

    def client(self) -> RedisCluster:
        from redis.cluster import ClusterNode

        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One attempt per call: the writer's own loop retries, and counts each try.
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in self.ports], password=self.password,
                            socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))

    def run(self) -> None:
        n = 0
        rc: RedisCluster | None = None
        while not self.stop_flag.is_set():
            try:
                if rc is None:
                    rc = self.client()
                n += 1
                rc.set(f"{self.prefix}:{n}", n)
                self.ledger.acked.append(n)
                self.ledger.incr_sent += 1
                rc.incr(f"{{{self.prefix}}}counter")
                self.ledger.incr_acked += 1
            except (redis.RedisError, redis.exceptions.RedisClusterException, OSError, IndexError, KeyError,
                    TypeError, AttributeError):
                # RedisCluster raises a few non-Redis errors while nodes come and go.
                self.ledger.errors += 1
                if rc is not None:
                    try:
                        rc.close()
                    except Exception:  # noqa: BLE001 - closing a broken client
                        pass
                rc = None
                time.sleep(0.05)
        if rc is not None:
            rc.close()

    def finish(self) -> Ledger:
        self.stop_flag.set()
        self.join(15)
        return self.ledger


def verify(port: int, ledger: Ledger, prefix: str = "w", password: str | None = None) -> tuple[int, list[int]]:
    """(kept, lost ids) of the acknowledged SETs, read through the cluster."""
    deadline = time.monotonic() + 20
    while True:
        try:
            rc = RedisCluster(host="127.0.0.1", port=port, password=password)
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        lost = []
        pipe = rc.pipeline()
        for n in ledger.acked:
            pipe.get(f"{prefix}:{n}")
        values = pipe.execute()
        for n, v in zip(ledger.acked, values):
            if v != str(n).encode():
                lost.append(n)
        counter = int(rc.get(f"{{{prefix}}}counter") or 0)
        assert counter >= ledger.incr_acked, f"counter {counter} < acknowledged increments {ledger.incr_acked}"
        assert counter <= ledger.incr_sent, f"counter {counter} > increments sent {ledger.incr_sent}"
        return len(ledger.acked) - len(lost), lost
    finally:
        rc.close()


async def wait_for(sup: Supervisor, name: str, timeout: float, since: int = 0, **match: Any) -> dict[str, Any]:
    """The first event named ``name`` (matching ``match``) at or after history index ``since``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for event in sup.history[since:]:
            if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                return event
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no {name} {match} within {timeout}s; saw {[e.get('event') for e in sup.history[since:]]}")


def data_ports(sup: Supervisor) -> list[int]:
    return [p.port for p in sup.procs.values() if p.kind == "data"]


def primary(sup: Supervisor, shard: int = 0):  # type: ignore[no-untyped-def]
    p = sup.primary_of(shard)
    assert p is not None
    return p
