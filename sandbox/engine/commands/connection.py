"""Connection commands: PING, ECHO, QUIT, RESET, SELECT, HELLO, AUTH.

CLIENT lives in ``client_cmds.py``. Logging in checks the node's ACL users
(``server.acl``): ``AUTH password`` is ``AUTH default password``; a failed attempt
is logged (ACL LOG, reason ``auth``) and leaves the connection as it was.
"""

from __future__ import annotations

from typing import Any

from .. import REDIS_COMPAT_VERSION, errors
from ..acl import DENIED_AUTH
from ..context import Ctx
from ..resp import OK, PONG, Map, Status
from ..resp import string2ll
from . import command


@command("ping", -1, "fast sentinel pubsub_ok", acl="@connection", group="connection",
         summary="Check that the node answers; returns PONG or the given message.", args="[message]")
def ping(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    client = ctx.client
    if client.proto == 2 and client.in_pubsub:
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else PONG


@command("echo", 2, "fast loading stale", acl="@connection", group="connection",
         summary="Return the given message unchanged.", args="message")
def echo(ctx: Ctx, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1, "allow_busy no_auth fast loading noscript stale pubsub_ok", acl="@connection", group="connection",
         summary="Close the connection once the reply is sent.")
def quit_(ctx: Ctx, argv: list[bytes]) -> Any:
    ctx.client.close_after_reply = True
    return OK


@command("reset", 1, "allow_busy no_auth fast loading noscript stale pubsub_ok", acl="@connection", since="6.2.0", group="connection",
         summary="Return the connection to its initial state (database 0, RESP2, no transaction, no subscriptions).")
def reset(ctx: Ctx, argv: list[bytes]) -> Any:
    client, server = ctx.client, ctx.server
    client.multi = None
    client.multi_error = False
    server.unwatch_all(client)
    server.pubsub.drop_client(client)
    client.db = 0
    client.proto = 2
    client.name = b""
    client.readonly = False
    client.asking = False
    client.no_evict = False
    client.user = server.acl.default
    client.authenticated = not server.auth_required()
    return Status(b"RESET")


@command("select", 2, "loading stale fast", acl="@connection", group="connection",
         summary="Switch the connection to another numbered database.", args="index")
def select(ctx: Ctx, argv: list[bytes]) -> Any:
    index = string2ll(argv[1])
    if index is None or not -(2**31) <= index < 2**31:
        raise errors.NOT_INTEGER
    if ctx.server.config.cluster_enabled and index != 0:
        raise errors.SELECT_NOT_ALLOWED_IN_CLUSTER
    if not 0 <= index < len(ctx.server.keyspace):
        raise errors.DB_INDEX_OUT_OF_RANGE
    ctx.client.db = index
    return OK


def authenticate(ctx: Ctx, username: bytes, password: bytes, command: bytes) -> bool:
    """Check credentials; on success the client is logged in as ``username``. A
    failure is logged with the command's name as typed (Redis's ACL LOG object)."""
    server, client = ctx.server, ctx.client
    user = server.acl.authenticate(username, password)
    if user is None:
        from .client_cmds import client_info_line

        context = b"multi" if client.multi is not None else b"toplevel"
        now = server.clock()
        info = client_info_line(client, now).encode()
        server.acl.log_denial(DENIED_AUTH, context, command, username, info, int(now * 1000))
        return False
    client.user = user
    client.authenticated = True
    return True


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", acl="@connection", group="connection",
         summary="Authenticate the connection as the default user or a named user.", args="[username] password")
def auth(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.SYNTAX
    if len(argv) == 2:
        if ctx.server.acl.default.nopass:
            raise errors.AUTH_NOT_CONFIGURED
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    if not authenticate(ctx, username, password, argv[0]):
        raise errors.WRONGPASS
    return OK


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", acl="@connection", since="6.0.0",
         group="connection", summary="Choose the protocol (2 or 3), optionally authenticate and name the connection, and describe the node.",
         args="[protover [AUTH username password] [SETNAME clientname]]")
def hello(ctx: Ctx, argv: list[bytes]) -> Any:
    client = ctx.client
    version = 0
    i = 1
    if len(argv) >= 2:
        v = string2ll(argv[1])
        if v is None:
            raise errors.HELLO_PROTOVER
        if v < 2 or v > 3:
            raise errors.NOPROTO
        version = v
        i = 2
    username = password = name = None
    while i < len(argv):
        more = len(argv) - 1 - i
        opt = argv[i].lower()
        if opt == b"auth" and more >= 2:
            username, password = argv[i + 1], argv[i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            name = argv[i + 1]
            if any(c < 33 or c > 126 for c in name):
                raise errors.CLIENT_NAME_INVALID
            i += 2
        else:
            raise errors.hello_syntax(argv[i])
    if username is not None and password is not None:
        if not authenticate(ctx, username, password, argv[0]):
            raise errors.WRONGPASS
    if not client.authenticated and ctx.server.auth_required():
        raise errors.HELLO_NOAUTH
    if name is not None:
        client.name = name
    if version:
        client.proto = version
    server = ctx.server
    return Map([
        (b"server", b"redis"),
        (b"version", REDIS_COMPAT_VERSION.encode()),
        (b"proto", client.proto),
        (b"id", client.id),
        (b"mode", b"cluster" if server.config.cluster_enabled else b"standalone"),
        (b"role", b"replica" if server.read_only else b"master"),
        (b"modules", []),
    ])
