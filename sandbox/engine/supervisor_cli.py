"""``python -m sandbox.engine cluster ...``: run a cluster in the foreground.

stdout is one JSON object per line: first ``{"event": "ready", "topology": {...}}``,
then one line per event. SIGTERM/SIGINT stop every child and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .supervisor import ClusterSpec, Supervisor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("durable", "cache"), required=True)
    parser.add_argument("--shards", type=int, default=1, help="1..16 (default 1)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas per shard, 0..5 (default 1)")
    parser.add_argument("--port", type=int, default=0, help="first port; 0 = any free ports (default)")
    parser.add_argument("--dir", default="var/cluster", help="data directory (default var/cluster)")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--replication-delay-ms", type=int, default=0, help="cache mode: one-way replication delay")
    parser.add_argument("--detection-timeout-ms", type=int, default=1000, help="cache mode: failure detection time")
    parser.add_argument("--lease-ms", type=int, default=1000, help="durable mode: primary lease")
    parser.add_argument("--durability", choices=("sync", "async"), default="sync",
                        help="durable mode: sync (reply after the journal's commit) or async (reply at once)")
    parser.add_argument("--durability-buffer-limit-ms", type=int, default=10_000,
                        help="durable async: refuse writes while the oldest unpersisted one is older (default 10000)")
    parser.add_argument("--no-restart", dest="auto_restart", action="store_false", help="don't restart crashed processes")
    parser.add_argument("--maxmemory", default="0",
                        help="per data node, e.g. 100mb; also sets each process's memory limit (default 0: none)")
    parser.add_argument("--max-disk-bytes", type=int, default=0,
                        help="durable mode: cap on the journal log plus snapshots; writes are refused over it "
                             "until a snapshot trims the log (default 0: no cap)")
    parser.add_argument("--requirepass", default="", help="default-user password of every data node")
    parser.add_argument("--username", default="",
                        help="an application user on every data node (the default user is then off)")
    parser.add_argument("--password-file", default=None, help="that user's password, read from this file")
    parser.add_argument("--from-snapshot", default="", metavar="PATH",
                        help="durable mode: create the cluster with this snapshot file's data (new directories only)")


def _read(path: str | None) -> str:
    if not path:
        return ""
    with open(path) as f:
        return f.read().strip()


async def run(args: argparse.Namespace) -> int:
    spec = ClusterSpec(
        mode=args.mode, shards=args.shards, replicas=args.replicas, base_port=args.port, data_dir=args.dir,
        bind=args.bind, replication_delay_ms=args.replication_delay_ms, detection_timeout_ms=args.detection_timeout_ms,
        lease_ms=args.lease_ms, auto_restart=args.auto_restart, maxmemory=args.maxmemory, requirepass=args.requirepass,
        username=args.username, password=_read(args.password_file), from_snapshot=args.from_snapshot,
        max_disk_bytes=args.max_disk_bytes, durability=args.durability,
        durability_buffer_limit_ms=args.durability_buffer_limit_ms,
    )
    supervisor = Supervisor(spec)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    events = supervisor.events()

    async def pump() -> None:
        async for event in events:
            if event.get("event") == "ready":
                continue  # printed below, once, with the final topology
            print(json.dumps(event), flush=True)

    pumping = loop.create_task(pump())
    try:
        topology = await supervisor.start()
        print(json.dumps({"event": "ready", "topology": topology}), flush=True)
        await stop.wait()
    finally:
        await supervisor.stop()
        pumping.cancel()
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        import uvloop

        return uvloop.run(run(args))
    except ImportError:
        return asyncio.run(run(args))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    add_arguments(p)
    sys.exit(main(p.parse_args()))
