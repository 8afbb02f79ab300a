"""Command line: ``python -m sandbox.engine server --port 6380``.

``server`` runs one standalone node in the foreground. When it is listening it
prints one JSON line to stdout, ``{"event": "ready", "host": ..., "port": ...,
"pid": ...}``, and it stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from .config import EngineConfig, _parse_memory


def _memory(value: str) -> int:
    try:
        return _parse_memory(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a memory size: {value!r} (e.g. 100mb, 1gb, 1048576)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    srv = sub.add_parser("server", help="run one standalone data node")
    srv.add_argument("--port", type=int, default=6379, help="TCP port; 0 picks a free one (default 6379)")
    srv.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--maxmemory", type=_memory, default=0, help="process memory limit for writes, e.g. 100mb (0 = none)")
    srv.add_argument("--requirepass", default=None, help="password of the default user")
    srv.add_argument("--databases", type=int, default=16, help="number of databases (default 16)")
    srv.add_argument("--cluster-enabled", action="store_true",
                     help="cluster mode: one database, slot checks and CLUSTER commands")
    srv.add_argument("--node-id", default="", help="40 hex characters (default: random)")
    srv.add_argument("--client-output-buffer-limit", type=_memory, default=EngineConfig.client_output_buffer_limit,
                     help="pending output allowed per client before it is disconnected (default 256mb)")
    srv.add_argument("--pubsub-output-buffer-limit", type=_memory, default=EngineConfig.pubsub_output_buffer_limit,
                     help="pending output allowed per subscriber before it is disconnected (default 32mb)")
    srv.add_argument("--proto-max-bulk-len", type=_memory, default=EngineConfig.proto_max_bulk_len,
                     help="largest bulk argument accepted (default 512mb)")
    return parser


async def _serve(config: EngineConfig) -> None:
    from .server import Server

    server = Server(config)
    port = await server.start()
    print(json.dumps({"event": "ready", "host": config.bind, "port": port, "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    server.on_shutdown = stop.set  # SHUTDOWN ends the process like a signal does
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "server":
        if not 1 <= args.databases <= 1024:
            print("--databases must be between 1 and 1024", file=sys.stderr)
            return 2
        config = EngineConfig(
            bind=args.bind, port=args.port, maxmemory=args.maxmemory,
            requirepass=args.requirepass, databases=args.databases,
            client_output_buffer_limit=args.client_output_buffer_limit,
            pubsub_output_buffer_limit=args.pubsub_output_buffer_limit,
            proto_max_bulk_len=args.proto_max_bulk_len,
            cluster_enabled=args.cluster_enabled, node_id=args.node_id,
        )
        try:
            import uvloop

            uvloop.run(_serve(config))
        except ImportError:
            asyncio.run(_serve(config))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
