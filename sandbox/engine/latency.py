"""What the node measures about the commands it runs: per-command calls and time
(INFO commandstats), error replies by prefix (INFO errorstats), the slow log, the
latency monitor's events (LATENCY LATEST/HISTORY/GRAPH) and per-command latency
histograms (LATENCY HISTOGRAM).

Invariants:
* ``CommandStat`` rows are keyed by the command's full name (``config|get``), as
  Redis names them; a row exists once a command was called or rejected.
* A call is counted once, in ``Server.call`` (``finished``); a command refused
  before it ran (arity, ACL, OOM, ...) is a ``rejected_calls`` of that command; an
  error raised while it ran is a ``failed_calls``. Every error reply, either way,
  counts once in ``errorstats`` under its first word (``ERR``, ``WRONGTYPE``).
* The slow log and the latency monitor only see commands at least as slow as their
  thresholds (``slowlog-log-slower-than`` µs, ``latency-monitor-threshold`` ms);
  the dispatcher compares the duration it measured with ``floor_ns`` (the lowest of
  the two and 1 µs) before calling in: a sub-µs call is one ``calls`` increment.
* A latency event keeps at most ``HISTORY_LEN`` samples, one per second (the
  highest), like Redis's latency.c.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client
    from .commands import Command
    from .errors import RedisError
    from .server import Server

HISTORY_LEN = 160  # LATENCY_TS_LEN
SLOWLOG_MAX_ARGC = 32
SLOWLOG_MAX_ARGLEN = 128


class CommandStat:
    __slots__ = ("calls", "usec", "rejected", "failed", "timed")

    def __init__(self) -> None:
        self.calls = 0
        self.usec = 0
        self.rejected = 0
        self.failed = 0
        # bucket -> count for the calls of at least 1 µs, bucket b holding calls of at
        # most 2**b µs; the sub-µs calls (bucket 0) are the rest of ``calls``, so the
        # common fast call costs the dispatcher one increment.
        self.timed: dict[int, int] = {}

    @property
    def histogram(self) -> dict[int, int]:
        """Every call's bucket, bucket 0 included."""
        fast = self.calls - sum(self.timed.values())
        return {0: fast, **self.timed} if fast > 0 else dict(self.timed)


@dataclass
class LatencyEvent:
    samples: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))  # [unix s, ms]
    max_ms: int = 0


class Telemetry:
    """One per node: the counters and logs above."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.commands: dict[str, CommandStat] = {}
        self.errors: dict[str, int] = {}
        self.events: dict[str, LatencyEvent] = {}
        self.slowlog: deque = deque()  # newest first: [id, ts, usec, argv, addr, name]
        self.slowlog_next_id = 0
        self.slow_ns = 10_000_000
        # The dispatcher's one comparison per call: at or past it, a call needs
        # ``timed`` (it took a whole µs, or it is slow enough to log).
        self.floor_ns = 1000
        params = server.params.params
        for name in ("slowlog-log-slower-than", "latency-monitor-threshold"):
            params[name].on_change = self.thresholds_changed
        self.thresholds_changed()

    def thresholds_changed(self) -> None:
        """Keep the dispatcher's one comparison: the lowest threshold in force."""
        params = self.server.params
        limits = []
        slower_than = params.get_int("slowlog-log-slower-than")
        if slower_than >= 0:
            limits.append(slower_than * 1000)
        monitor_ms = params.get_int("latency-monitor-threshold")
        if monitor_ms > 0:
            limits.append(monitor_ms * 1_000_000)
        self.slow_ns = min(limits) if limits else 2**63
        self.floor_ns = min(self.slow_ns, 1000)

    def stat(self, name: str) -> CommandStat:
        stat = self.commands.get(name)
        if stat is None:
            stat = self.commands[name] = CommandStat()
        return stat

    # -- errors -------------------------------------------------------------------
    def error(self, err: "RedisError") -> None:
        """An error reply was sent: count it under its prefix."""
        self.server.stats.total_error_replies += 1
        prefix = err.text.split(b" ", 1)[0].decode(errors="replace") or "ERR"
        self.errors[prefix] = self.errors.get(prefix, 0) + 1

    def rejected(self, argv: list[bytes], err: "RedisError") -> "RedisError":
        """A command refused before it ran: a rejected call of it, if it exists."""
        self.error(err)
        cmd = self.server.commands.get(argv[0].lower())
        if cmd is not None:
            if cmd.subcommands and len(argv) > 1:
                cmd = cmd.subcommands.get(argv[1].lower(), cmd)
            self.stat(cmd.name).rejected += 1
        return err

    # -- slow commands ---------------------------------------------------------------
    def timed(self, stat: CommandStat, client: "Client", cmd: "Command", argv: list[bytes], elapsed_ns: int) -> None:
        """A call of at least ``floor_ns`` (already counted in ``calls``): its µs, its
        histogram bucket, and the slow log / latency monitor when past their thresholds."""
        usec = elapsed_ns // 1000
        if usec:
            stat.usec += usec
            bucket = usec.bit_length()
            hist = stat.timed
            hist[bucket] = hist.get(bucket, 0) + 1
        if elapsed_ns >= self.slow_ns:
            self.slow(client, cmd, argv, elapsed_ns)

    def slow(self, client: "Client", cmd: "Command", argv: list[bytes], elapsed_ns: int) -> None:
        """A command at least as slow as one of the thresholds."""
        params = self.server.params
        usec = elapsed_ns // 1000
        slower_than = params.get_int("slowlog-log-slower-than")
        if 0 <= slower_than <= usec and "skip_slowlog" not in cmd.flags:
            self._slowlog_add(client, argv, usec, params.get_int("slowlog-max-len"))
        monitor_ms = params.get_int("latency-monitor-threshold")
        ms = usec // 1000
        if monitor_ms and ms >= monitor_ms:
            self.add_sample("fast-command" if "fast" in cmd.flags else "command", ms)

    def _slowlog_add(self, client: "Client", argv: list[bytes], usec: int, max_len: int) -> None:
        shown: list[bytes] = []
        for i, arg in enumerate(argv[:SLOWLOG_MAX_ARGC]):
            if i == SLOWLOG_MAX_ARGC - 1 and len(argv) > SLOWLOG_MAX_ARGC:
                shown.append(b"... (%d more arguments)" % (len(argv) - SLOWLOG_MAX_ARGC + 1))
                break
            if len(arg) > SLOWLOG_MAX_ARGLEN:
                arg = arg[:SLOWLOG_MAX_ARGLEN] + b"... (%d more bytes)" % (len(arg) - SLOWLOG_MAX_ARGLEN)
            shown.append(arg)
        entry = [self.slowlog_next_id, int(time.time()), usec, shown, client.addr.encode(), client.name or b""]
        self.slowlog_next_id += 1
        self.slowlog.appendleft(entry)
        while len(self.slowlog) > max_len:
            self.slowlog.pop()

    # -- latency monitor ------------------------------------------------------------
    def add_sample(self, event: str, ms: int) -> None:
        """latencyAddSample: one sample per second, the highest of that second."""
        now = int(time.time())
        ev = self.events.get(event)
        if ev is None:
            ev = self.events[event] = LatencyEvent()
        ev.max_ms = max(ev.max_ms, ms)
        if ev.samples and ev.samples[-1][0] == now:
            ev.samples[-1][1] = max(ev.samples[-1][1], ms)
        else:
            ev.samples.append([now, ms])

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: command and error counters (not the logs)."""
        self.commands.clear()
        self.errors.clear()


def finished(server: "Server", client: "Client", cmd: "Command", argv: list[bytes], elapsed_ns: int) -> None:
    """Count one call of ``cmd`` that took ``elapsed_ns`` (``Server.call`` inlines this)."""
    telemetry = server.telemetry
    stat = telemetry.commands.get(cmd.name) or telemetry.stat(cmd.name)
    stat.calls += 1
    if elapsed_ns >= telemetry.floor_ns:
        telemetry.timed(stat, client, cmd, argv, elapsed_ns)


def commandstats_fields(server: "Server") -> list[tuple[str, Any]]:
    out = []
    for name, s in server.telemetry.commands.items():
        per_call = s.usec / s.calls if s.calls else 0.0
        out.append((f"cmdstat_{name}", f"calls={s.calls},usec={s.usec},usec_per_call={per_call:.2f},"
                    f"rejected_calls={s.rejected},failed_calls={s.failed}"))
    return out


def errorstats_fields(server: "Server") -> list[tuple[str, Any]]:
    return [(f"errorstat_{prefix}", f"count={n}") for prefix, n in server.telemetry.errors.items()]


def latencystats_fields(server: "Server") -> list[tuple[str, Any]]:
    """INFO latencystats: p50, p99, p99.9 per command, from the histogram buckets."""
    out = []
    for name, s in server.telemetry.commands.items():
        if not s.calls:
            continue
        parts = [f"p{label}={percentile(s, q):.3f}" for label, q in (("50", 50.0), ("99", 99.0), ("99.9", 99.9))]
        out.append((f"latency_percentiles_usec_{name}", ",".join(parts)))
    return out


def percentile(stat: CommandStat, q: float) -> float:
    """The upper edge of the bucket holding the q-th percentile call, in µs."""
    wanted = stat.calls * q / 100
    seen = 0
    histogram = stat.histogram
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= wanted:
            return float(1 << bucket)
    return 0.0
