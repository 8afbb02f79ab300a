"""LATENCY (LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM, HELP) over the node's
latency monitor and per-command histograms (latency.py), and FAILOVER, which a
sandbox node refuses.

Invariants:
* Reply shapes are Redis 7.0's: LATEST is ``[event, time, latest ms, max ms]`` per
  event, HISTORY ``[time, ms]`` pairs, HISTOGRAM a map of command name to
  ``{calls, histogram_usec: {bucket: cumulative calls}}`` whose buckets are powers
  of two microseconds.
* GRAPH and DOCTOR are text for people: the first line of GRAPH and DOCTOR's
  answers when there is nothing to report are Redis's; the rest is this engine's.
* FAILOVER is the service's decision in MemoryDB (and here, the console's fault
  buttons): a client can't move the primary, whatever its arguments.
"""

from __future__ import annotations

import time
from typing import Any

from .. import errors
from ..context import Ctx
from ..latency import CommandStat, LatencyEvent
from ..resp import Map, Verbatim
from . import command, container
from .util import help_reply

container("latency", "A container for latency diagnostics commands", "2.8.13", "server", acl="@slow")

_LATENCY_HELP = [
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
]
_ADMIN = "admin noscript loading stale"

_NO_SPIKES = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. "
    "I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
)
_MONITOR_OFF = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
    "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep "
    "space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
)


@command("latency|latest", 2, _ADMIN, group="server", since="2.8.13",
         summary="Return the latest latency samples for all events.")
def latency_latest(ctx: Ctx, argv: list[bytes]) -> Any:
    events = ctx.server.telemetry.events
    return [[name.encode(), ev.samples[-1][0], ev.samples[-1][1], ev.max_ms] for name, ev in events.items() if ev.samples]


@command("latency|history", 3, _ADMIN, group="server", since="2.8.13",
         summary="Return timestamp-latency samples for the event.", args="event")
def latency_history(ctx: Ctx, argv: list[bytes]) -> Any:
    ev = ctx.server.telemetry.events.get(argv[2].decode(errors="replace"))
    return [] if ev is None else [[ts, ms] for ts, ms in ev.samples]


@command("latency|reset", -2, _ADMIN, group="server", since="2.8.13",
         summary="Reset latency data for one or more events.", args="[event [event ...]]")
def latency_reset(ctx: Ctx, argv: list[bytes]) -> Any:
    events = ctx.server.telemetry.events
    if len(argv) == 2:
        count = len(events)
        events.clear()
        return count
    return sum(events.pop(name.decode(errors="replace"), None) is not None for name in argv[2:])


@command("latency|graph", 3, _ADMIN, group="server", since="2.8.13",
         summary="Return a latency graph for the event.", args="event")
def latency_graph(ctx: Ctx, argv: list[bytes]) -> Any:
    name = argv[2].decode(errors="replace")
    ev = ctx.server.telemetry.events.get(name)
    if ev is None or not ev.samples:
        raise errors.latency_no_samples(argv[2])
    return Verbatim(_graph(name, ev).encode())


def _graph(name: str, ev: LatencyEvent) -> str:
    """The header Redis prints, then one column per sample scaled to 4 rows."""
    values = [ms for _ts, ms in ev.samples]
    high, low = max(values), min(values)
    lines = [f"{name} - high {high} ms, low {low} ms (all time high {ev.max_ms} ms)", "-" * 80]
    for row in range(4, 0, -1):
        lines.append("".join("#" if high and ms * 4 >= row * high else " " for ms in values).rstrip() or " ")
    now = int(time.time())
    lines.append(" ".join(f"{now - ts}s" for ts, _ms in list(ev.samples)[-10:]))
    return "\n".join(lines) + "\n"


@command("latency|doctor", 2, _ADMIN, group="server", since="2.8.13",
         summary="Return a human readable latency analysis report.")
def latency_doctor(ctx: Ctx, argv: list[bytes]) -> Any:
    telemetry = ctx.server.telemetry
    events = {name: ev for name, ev in telemetry.events.items() if ev.samples}
    if not events:
        threshold = ctx.server.params.get_int("latency-monitor-threshold")
        return Verbatim((_NO_SPIKES if threshold else _MONITOR_OFF).encode())
    lines = ["Latency spikes observed on this node (events above latency-monitor-threshold):", ""]
    for i, (name, ev) in enumerate(events.items(), 1):
        values = [ms for _ts, ms in ev.samples]
        lines.append(f"{i}. {name}: {len(values)} latency spikes (average {sum(values) // len(values)}ms, "
                     f"worst {ev.max_ms}ms).")
    lines += ["", "Slow commands: see SLOWLOG GET; a long command blocks every client of the node."]
    return Verbatim(("\n".join(lines) + "\n").encode())


@command("latency|histogram", -2, _ADMIN, group="server", since="7.0.0",
         complexity="O(N) where N is the number of commands with latency information being retrieved.",
         summary="Return the cumulative distribution of latencies of a subset of commands or all.",
         args="[command [command ...]]")
def latency_histogram(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    stats = server.telemetry.commands
    names: list[str] = []
    if len(argv) == 2:
        names = [name for name, s in stats.items() if s.calls]
    for arg in argv[2:]:
        cmd = server.commands.get(arg.lower())
        if cmd is None and b"|" in arg:
            parent, _, sub = arg.lower().partition(b"|")
            container_cmd = server.commands.get(parent)
            cmd = None if container_cmd is None else container_cmd.subcommands.get(sub)
        if cmd is None:
            continue
        for c in cmd.subcommands.values() if cmd.subcommands else [cmd]:
            s = stats.get(c.name)
            if s is not None and s.calls and c.name not in names:
                names.append(c.name)
    return Map([(name.encode(), _cdf(stats[name])) for name in names])


def _cdf(stat: CommandStat) -> Map:
    seen = 0
    buckets = []
    for bucket in sorted(stat.histogram):
        seen += stat.histogram[bucket]
        buckets.append((1 << bucket, seen))
    return Map([(b"calls", stat.calls), (b"histogram_usec", Map(buckets))])


@command("latency|help", 2, "loading stale", group="server", since="2.8.13",
         summary="Show helpful text about the different subcommands.")
def latency_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_LATENCY_HELP)


@command("failover", -1, "admin noscript stale", group="server", since="6.2.0",
         summary="Refused: the service moves a shard's primary (crash or pause it from the sandbox console).",
         args="[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]")
def failover(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.FAILOVER_MANAGED
