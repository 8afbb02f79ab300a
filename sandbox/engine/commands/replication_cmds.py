"""Replication commands: REPLICAOF/SLAVEOF, PSYNC, REPLCONF, WAIT, ROLE.

Metadata (arity, flags, ACL categories) is Redis 7.0's. REPLICAOF, SLAVEOF, PSYNC
and REPLCONF are ``admin``: the sandbox never lets a learner send them; the
supervisor uses REPLICAOF to fail a shard over. Unlike Redis, REPLICAOF is allowed
in cluster mode: here the supervisor, not the cluster bus, chooses primaries.

The bodies only parse arguments; the node's role (``roles.NodeRole``) does the
work: cache replication (``replication.Replication``, created on first use by a
standalone node), durable mode (which refuses REPLICAOF, PSYNC and WAIT).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..resp import OK, Raw, Status
from . import command
from .util import parse_int

NO_REPLY = Raw(b"")  # REPLCONF ACK and PSYNC answer on the replication stream, or not at all

ALREADY_CONNECTED = Status(b"OK Already connected to specified master")


def _replicaof(ctx: Ctx, argv: list[bytes]) -> Any:
    if ctx.client.is_replica:
        raise errors.REPL_NOT_WHILE_REPLICA_LINK
    repl = ctx.server.role.replication()
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        repl.promote()
        return OK
    port = parse_int(argv[2], errors.REPL_INVALID_PORT)
    if not 0 <= port <= 65535:
        raise errors.REPL_INVALID_PORT
    if not repl.follow(argv[1].decode(errors="replace"), port):
        return ALREADY_CONNECTED
    return OK


@command("replicaof", 3, "admin noscript stale no_async_loading", group="server", since="5.0.0",
         summary="Make this node a replica of another one, or promote it to primary (NO ONE).", args="host port")
def replicaof(ctx: Ctx, argv: list[bytes]) -> Any:
    return _replicaof(ctx, argv)


@command("slaveof", 3, "admin noscript stale no_async_loading", group="server", since="1.0.0",
         summary="The old name of REPLICAOF.", args="host port")
def slaveof(ctx: Ctx, argv: list[bytes]) -> Any:
    return _replicaof(ctx, argv)


@command("psync", -3, "admin noscript no_async_loading no_multi", group="server", since="2.8.0",
         summary="(Replicas only) Resume the replication stream from an offset, or receive the whole dataset.",
         args="replicationid offset")
def psync(ctx: Ctx, argv: list[bytes]) -> Any:
    repl = ctx.server.role.replication()
    if ctx.client.is_replica:
        return NO_REPLY  # already streaming to this connection
    if repl.primary is not None and (repl.link is None or repl.link.status != "up"):
        raise errors.REPL_NOMASTERLINK
    wanted = parse_int(argv[2])
    repl.psync(ctx.client, argv[1].decode(errors="replace"), wanted)
    return NO_REPLY


@command("replconf", -1, "admin noscript loading stale allow_busy", group="server", since="3.0.0",
         summary="(Replicas only) Configure the replication link, acknowledge an offset.", args="[option value ...]")
def replconf(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.SYNTAX
    client = ctx.client
    for i in range(1, len(argv), 2):
        option, value = argv[i].lower(), argv[i + 1]
        if option == b"ack":
            # Only a replica link sends it, and Redis never answers it.
            ctx.server.role.replica_ack(client, parse_int(value))
            return NO_REPLY
        if option == b"listening-port":
            client.repl_listening_port = parse_int(value)
        elif option in (b"ip-address", b"capa", b"rdb-only", b"rdb-filter-only"):
            pass
        elif option == b"getack":
            return NO_REPLY
        else:
            raise errors.replconf_unrecognized(argv[i])
    return OK


@command("wait", 3, "noscript", acl="@connection", since="3.0.0",
         summary="Block until the writes sent so far reached numreplicas replicas, or the timeout (ms; 0 = forever) passed; "
                 "returns how many did. Makes nothing durable.",
         args="numreplicas timeout")
def wait(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    refusal = server.role.wait_refusal()
    if refusal is not None:
        raise refusal
    numreplicas = parse_int(argv[1])
    timeout = parse_int(argv[2], errors.TIMEOUT_NOT_INTEGER)
    if timeout < 0:
        raise errors.TIMEOUT_NEGATIVE
    # Inside EXEC a blocking reply is impossible: Redis answers at once there too.
    return server.role.wait(ctx.client, numreplicas, timeout, server.running_exec)


@command("role", 1, "noscript loading stale fast", acl="@admin @dangerous", group="server", since="2.8.12",
         summary="This node's role in replication: primary with its replicas' offsets, or replica with its link state.")
def role(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.server.role.role_reply()
