"""Command line: ``python -m sandbox.engine server --port 6380``.

``server`` runs one standalone node in the foreground. When it is listening it
prints one JSON line to stdout, ``{"event": "ready", "host": ..., "port": ...,
"pid": ...}``, and it stops cleanly on SIGTERM or SIGINT.

``node`` runs one data node of a cluster (``--mode cache``: asynchronous
replication, the ElastiCache comparison; ``--mode durable``: journal-backed, the
MemoryDB model). It prints one JSON line per event, the first being ``ready``;
SIGTERM/SIGINT stop it with exit status 0, and it stops too when its parent dies.

Both ``server`` and ``node`` take ``--aclfile PATH`` (Redis's format: one ``user
<name> <rules...>`` line per user). The file is read before the node listens; if it
can't be used, the process prints why and exits with status 1. Passwords never need
to be on the command line (``/proc/*/cmdline`` is world-readable): the ACL file holds
only hashes, and ``--requirepass-file``/``--masterauth-file`` read a secret from a file,
as do ``journal --auth-file`` and ``node``/``snapshotter --journal-auth-file`` for the
journal's shared secret (journal_auth.py; a file other users may read is refused).

``journal`` runs one replica of the journal and ``snapshotter`` the off-node
snapshotter of a durable cluster (SIGUSR1: snapshot every shard now); both follow
the same conventions (a ``ready`` line, JSON events, exit 0 on SIGTERM).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable
import asyncio
import gc
import json
import os
import signal
import sys
from typing import TYPE_CHECKING

from .config import EngineConfig, _parse_memory

if TYPE_CHECKING:
    from .config import NodeConfig


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
    srv.add_argument("--aclfile", default="", help="ACL users file (Redis format), loaded before listening")
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
    _add_node_parser(sub)
    jr = sub.add_parser("journal", help="run one replica of the journal (the multi-AZ transaction log)")
    jr.add_argument("--id", required=True, help="this replica's name, e.g. az-a")
    jr.add_argument("--peers", required=True, help="names of all replicas, comma-separated (this one too)")
    jr.add_argument("--dir", required=True, help="this replica's log directory")
    jr.add_argument("--discovery-dir", required=True, help="shared directory where replicas publish their ports")
    jr.add_argument("--port", type=int, default=0, help="client port (RESP); 0 picks a free one")
    jr.add_argument("--raft-port", type=int, default=0, help="peer port; 0 picks a free one")
    jr.add_argument("--bind", default="127.0.0.1")
    jr.add_argument("--auth-file", default="",
                    help="file (0600) holding the secret that clients and peers must prove (default: none)")
    jr.add_argument("--disk-quota-bytes", type=int, default=0,
                    help="refuse data appends when this replica's log plus --snapshot-dir passes 1.5x this; "
                         "primaries stop writes at 1x (JDISK) (default 0: no quota)")
    jr.add_argument("--snapshot-dir", default="", help="the cluster's snapshot directory, counted in the quota")
    jh = sub.add_parser("journal-host", help="run one zone's host journal (a Raft group per durable cluster)")
    jh.add_argument("--zone", required=True, help="this process's zone, e.g. az-a")
    jh.add_argument("--peers", default="az-a,az-b,az-c", help="every zone of the host, comma-separated (this one too)")
    jh.add_argument("--dir", required=True, help="this zone's directory (its groups' logs and secrets)")
    jh.add_argument("--discovery-dir", required=True, help="shared directory where the zones publish their ports")
    jh.add_argument("--port", type=int, default=0, help="client port (RESP); 0 picks a free one")
    jh.add_argument("--raft-port", type=int, default=0, help="zone link port; 0 picks a free one")
    jh.add_argument("--control-port", type=int, default=0, help="control port (the supervisor's); 0 picks a free one")
    jh.add_argument("--bind", default="127.0.0.1")
    jh.add_argument("--auth-file", required=True, help="file (0600) holding the host's secret (links, control port)")
    sn = sub.add_parser("snapshotter", help="run the off-node snapshotter of a durable cluster")
    sn.add_argument("--journal", type=_addresses, required=True, help="journal replicas, host:port,host:port,...")
    sn.add_argument("--shards", type=int, required=True, help="number of shards (streams shard-0..shard-N-1)")
    sn.add_argument("--dir", required=True, help="snapshot directory shared with the data nodes")
    sn.add_argument("--interval-s", type=float, default=60.0, help="seconds between scheduled snapshots (0 = none)")
    sn.add_argument("--threshold-entries", type=int, default=5000,
                    help="snapshot a shard once its log is this many entries past its snapshot (0 = never)")
    sn.add_argument("--journal-auth-file", default="", help="file (0600) holding the journal's secret (default: none)")
    from .supervisor_cli import add_arguments as add_cluster_arguments

    add_cluster_arguments(sub.add_parser("cluster", help="run a whole cluster (journal, data nodes, snapshotter)"))
    return parser


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"not host:port: {value!r}")
    return host or "127.0.0.1", int(port)


def _addresses(value: str) -> tuple[tuple[str, int], ...]:
    return tuple(_address(v) for v in value.split(",") if v)


def _add_node_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    node = sub.add_parser("node", help="run one data node of a cluster (cache or durable mode)")
    node.add_argument("--mode", choices=("cache", "durable"), required=True,
                      help="cache: async replication (ElastiCache); durable: journal-backed (MemoryDB)")
    node.add_argument("--shard", type=int, required=True, help="shard index, 0..N-1")
    node.add_argument("--zone", required=True, help="availability zone name, e.g. az-a")
    node.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    node.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    node.add_argument("--dir", required=True, help="this node's directory (created if missing)")
    node.add_argument("--cluster-enabled", action="store_true", help="cluster mode: slots, MOVED, CLUSTER commands")
    node.add_argument("--node-id", default="", help="40 hex characters (default: random)")
    node.add_argument("--maxmemory", type=_memory, default=0, help="process memory limit for writes (0 = none)")
    node.add_argument("--client-output-buffer-limit", type=_memory, default=EngineConfig.client_output_buffer_limit,
                      help="hard limit of a normal client's pending output, e.g. 32mb; past it the client is closed")
    node.add_argument("--requirepass", default=None, help="password of the default user")
    node.add_argument("--requirepass-file", default=None,
                      help="read the password from this file (keeps it out of the process list)")
    node.add_argument("--aclfile", default="", help="ACL users file (Redis format), loaded before listening")
    node.add_argument("--masteruser", default="", help="cache replicas: the user to log in as on the primary")
    node.add_argument("--masterauth-file", default=None,
                      help="cache replicas: read that user's password from this file")
    node.add_argument("--replica-of", type=_address, default=None, help="cache: start as a replica of host:port")
    node.add_argument("--replication-delay-ms", type=int, default=0,
                      help="cache: one-way delay on every link to this node's replicas, ms (0..60000)")
    node.add_argument("--repl-backlog-size", type=_memory, default=None,
                      help="cache: bytes of stream kept for partial resyncs (default 1mb)")
    node.add_argument("--journal", type=_addresses, default=(), help="durable: journal replicas, host:port,host:port,...")
    node.add_argument("--journal-auth-file", default="",
                      help="durable: file (0600) holding the journal's secret (default: none)")
    node.add_argument("--snapshot-dir", default="", help="durable: where verified snapshots are published")
    node.add_argument("--lease-ms", type=int, default=1000, help="durable: primary lease, ms")
    node.add_argument("--renew-every-ms", type=int, default=333, help="durable: lease renewal period, ms")
    node.add_argument("--campaign-after-ms", type=int, default=0,
                      help="durable: silence before a replica campaigns, ms (default 1.5 x lease)")
    node.add_argument("--prefer-primary", action="store_true", help="durable: campaign first in a new shard")
    node.add_argument("--durability", choices=("sync", "async"), default="sync",
                      help="durable: sync replies after the journal's commit; async replies at once and "
                           "appends in the background (default sync)")
    node.add_argument("--durability-buffer-limit-ms", type=int, default=10_000,
                      help="durable async: refuse writes while the oldest unpersisted one is older (default 10000)")


def _password(args: argparse.Namespace) -> str | None:
    if args.requirepass_file:
        with open(args.requirepass_file) as f:
            return f.read().strip() or None
    return args.requirepass


def _secret(path: str | None) -> str:
    if not path:
        return ""
    with open(path) as f:
        return f.read().strip()


def _journal_secret(path: str, option: str = "--journal-auth-file") -> str:
    """The journal secret a file holds ("" without a file); SystemExit(1) with the
    reason when the file can't be used (unreadable, readable by others, too short)."""
    if not path:
        return ""
    from .journal_auth import load_secret

    try:
        return load_secret(path).decode()
    except (OSError, ValueError) as exc:
        print(f"{option}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _aclfile_problem(args: argparse.Namespace) -> str:
    """Why the ACL options can't be used, or ""."""
    if not args.aclfile:
        return ""
    if args.requirepass or getattr(args, "requirepass_file", None):
        return "--requirepass and --aclfile can't be used together: define the default user in the ACL file"
    from .acl_users import AclFileError, check_aclfile

    try:
        check_aclfile(args.aclfile)
    except AclFileError as err:
        return f"Aborting startup because of ACL errors: {err}"
    return ""


def _node_config(args: argparse.Namespace) -> "NodeConfig":
    from .config import NodeConfig

    extra = {}
    if args.repl_backlog_size is not None:
        extra["repl-backlog-size"] = str(args.repl_backlog_size)
    engine = EngineConfig(
        bind=args.bind, port=args.port, maxmemory=args.maxmemory, requirepass=_password(args),
        aclfile=args.aclfile, masteruser=args.masteruser, masterauth=_secret(args.masterauth_file),
        cluster_enabled=args.cluster_enabled, node_id=args.node_id or os.urandom(20).hex(), extra=extra,
        client_output_buffer_limit=args.client_output_buffer_limit,
    )
    return NodeConfig(
        engine=engine, mode=args.mode, shard=args.shard, zone=args.zone, data_dir=args.dir,
        journal=args.journal, journal_secret=_journal_secret(args.journal_auth_file),
        snapshot_dir=args.snapshot_dir, replica_of=args.replica_of,
        replication_delay_ms=args.replication_delay_ms, lease_ms=args.lease_ms,
        renew_every_ms=min(args.renew_every_ms, args.lease_ms // 3),
        campaign_after_ms=args.campaign_after_ms or args.lease_ms * 3 // 2,
        prefer_primary=args.prefer_primary, durability=args.durability,
        durability_buffer_limit_ms=args.durability_buffer_limit_ms,
    )


def _die_with_parent() -> None:
    """Stop (SIGTERM, a clean exit) when the parent process dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent watch below still works


# Events after which the process holds its long-lived objects (modules, command tables,
# the data a node has just loaded). gc.freeze() moves them out of the collector's
# generations, so a full collection no longer walks them: a 160k-hash keyspace's
# worst pause went from ~25 ms to a few. They are still freed by reference counting;
# only a cycle among them would stay, and loaded data holds none.
_SETTLED = frozenset({"ready", "restored", "snapshot_loaded"})


def _emit(event: dict) -> None:
    if event.get("event") in _SETTLED:
        gc.freeze()
    try:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass  # nobody reads our events any more; the parent watch stops us if it died


async def _run_child(runner: Any, parent: int, on_stop: Callable[[], None] | None = None) -> int:
    """Run a cluster child's main coroutine until SIGTERM/SIGINT or its parent's death.

    PR_SET_PDEATHSIG follows the parent *thread*; re-parenting is the sure sign, so
    the parent pid is watched too. ``on_stop`` runs before the task is cancelled.
    """
    loop = asyncio.get_running_loop()
    task = loop.create_task(runner)

    def stop() -> None:
        if on_stop is not None:
            on_stop()
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)

    async def watch_parent() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        stop()

    watcher = loop.create_task(watch_parent())
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        watcher.cancel()
    return 0


async def _run_node(cfg: "NodeConfig") -> int:
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return 0  # the parent died before the death signal was armed
    if cfg.mode == "cache":
        from .node import run_cache_node

        return await _run_child(run_cache_node(cfg, _emit), parent)
    from .durable import run_durable_node

    return await _run_child(run_durable_node(cfg, _emit), parent)


def _run_with_loop(coro: Any) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


async def _run_journal(args: argparse.Namespace) -> int:
    from .journal_server import JournalConfig, run_journal

    parent = os.getppid()
    _die_with_parent()
    config = JournalConfig(
        args.id, tuple(args.peers.split(",")), args.dir, args.discovery_dir, host=args.bind,
        raft_port=args.raft_port, client_port=args.port, secret=args.secret,
        disk_quota_bytes=max(args.disk_quota_bytes, 0), snapshot_dir=args.snapshot_dir,
    )

    def ready(address: dict) -> None:
        _emit({"event": "ready", "host": address["host"], "port": address["client_port"],
               "raft_port": address["raft_port"], "pid": os.getpid(), "node": args.id})

    return await _run_child(run_journal(config, on_ready=ready), parent)


async def _run_journal_host(args: argparse.Namespace) -> int:
    from .journal_host import HostConfig, run_zone_host

    parent = os.getppid()
    _die_with_parent()
    config = HostConfig(args.zone, args.dir, args.discovery_dir, args.secret, zones=tuple(args.peers.split(",")),
                        host=args.bind, raft_port=args.raft_port, client_port=args.port,
                        control_port=args.control_port)

    def ready(address: dict) -> None:
        _emit({"event": "ready", "host": address["host"], "port": address["client_port"],
               "raft_port": address["raft_port"], "control_port": address["control_port"], "pid": os.getpid(),
               "zone": args.zone})

    return await _run_child(run_zone_host(config, on_ready=ready, on_event=_emit), parent)


async def _run_snapshotter(args: argparse.Namespace) -> int:
    from .snapshotter import Snapshotter, SnapshotterConfig, run_snapshotter

    parent = os.getppid()
    _die_with_parent()
    loop = asyncio.get_running_loop()
    requested: list[bool] = []
    # SIGUSR1 would end the process until the snapshotter takes it over: remember it.
    loop.add_signal_handler(signal.SIGUSR1, lambda: requested.append(True))
    config = SnapshotterConfig(args.journal, args.shards, args.dir, interval_s=args.interval_s,
                               threshold_entries=args.threshold_entries,
                               journal_secret=args.journal_secret)

    running: list[Snapshotter] = []

    def ready(snapshotter: Snapshotter) -> None:
        running.append(snapshotter)
        loop.add_signal_handler(signal.SIGUSR1, snapshotter.request)
        if requested:
            snapshotter.request()
        _emit({"event": "ready", "pid": os.getpid(), "dir": args.dir, "shards": args.shards,
               "interval_s": args.interval_s, "threshold_entries": args.threshold_entries})

    def stop_snapshotters() -> None:
        for snapshotter in running:
            snapshotter.stop()  # sticks even if the cancellation is swallowed

    return await _run_child(run_snapshotter(config, _emit, on_ready=ready), parent, on_stop=stop_snapshotters)


async def _serve(config: EngineConfig) -> None:
    from .server import Server

    stop = asyncio.Event()
    server = Server(config, on_shutdown=stop.set)  # SHUTDOWN ends the process like a signal does
    port = await server.start()
    gc.freeze()  # see _SETTLED
    print(json.dumps({"event": "ready", "host": config.bind, "port": port, "pid": os.getpid()}), flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("server", "node"):
        problem = _aclfile_problem(args)
        if problem:
            print(problem, file=sys.stderr)
            return 1
    if args.command == "server":
        if not 1 <= args.databases <= 1024:
            print("--databases must be between 1 and 1024", file=sys.stderr)
            return 2
        config = EngineConfig(
            bind=args.bind, port=args.port, maxmemory=args.maxmemory,
            requirepass=args.requirepass, aclfile=args.aclfile, databases=args.databases,
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
    if args.command == "journal":
        args.secret = _journal_secret(args.auth_file, "--auth-file").encode()
        return _run_with_loop(_run_journal(args))
    if args.command == "journal-host":
        args.secret = _journal_secret(args.auth_file, "--auth-file").encode()
        return _run_with_loop(_run_journal_host(args))
    if args.command == "snapshotter":
        if not 1 <= args.shards <= 16 or args.interval_s < 0 or args.threshold_entries < 0:
            print("--shards must be 1..16; --interval-s and --threshold-entries must be >= 0", file=sys.stderr)
            return 2
        args.journal_secret = _journal_secret(args.journal_auth_file)
        return _run_with_loop(_run_snapshotter(args))
    if args.command == "cluster":
        from .supervisor_cli import main as cluster_main

        return cluster_main(args)
    if args.command == "node":
        if args.durability == "async" and (args.mode != "durable" or not args.cluster_enabled):
            # The full buffer refuses writes only (reads go on): a cluster node's write refusal.
            print("--durability async needs --mode durable and --cluster-enabled", file=sys.stderr)
            return 2
        if args.durability_buffer_limit_ms <= 0:
            print("--durability-buffer-limit-ms must be > 0", file=sys.stderr)
            return 2
        cfg = _node_config(args)
        try:
            import uvloop
        except ImportError:
            return asyncio.run(_run_node(cfg))
        return uvloop.run(_run_node(cfg))
    return 2


if __name__ == "__main__":
    sys.exit(main())
