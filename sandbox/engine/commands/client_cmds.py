"""CLIENT: inspect and manage connections (ID, SETNAME, GETNAME, LIST, INFO, KILL,
NO-EVICT, REPLY, TRACKING, PAUSE/UNPAUSE, UNBLOCK, HELP).

CLIENT LIST/INFO lines have Redis 7.0.15's field layout; the numbers the engine
doesn't measure the way Redis does (reader buffer, reply list) are 0.

Not supported here, with a clear error: client-side caching (TRACKING ON,
CACHING), suppressed replies (REPLY OFF/SKIP) and PAUSE — each needs the
dispatcher's cooperation. CLIENT SETINFO answers like Redis 7.0, which doesn't
know it (redis-py ignores that error).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import Ctx
from ..resp import OK, Map, SetReply, Verbatim, string2ll
from . import command, container
from .util import help_reply

if TYPE_CHECKING:
    from ..client import Client

container("client", "Inspect and manage client connections.", "2.4.0", "connection")

_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]

_TYPES = {b"normal": "normal", b"master": "master", b"replica": "replica", b"slave": "replica", b"pubsub": "pubsub"}


def client_type(client: "Client") -> str:
    """Redis's getClientType: replica links, then subscribers, then the primary's link."""
    if client.is_replica:
        return "replica"
    if client.in_pubsub:
        return "pubsub"
    if client.is_master:
        return "master"
    return "normal"


def _parse_type(arg: bytes) -> str:
    kind = _TYPES.get(arg.lower())
    if kind is None:
        raise errors.client_unknown_type(arg)
    return kind


def client_info_line(client: "Client", now: float, argv: list[bytes] | None = None) -> str:
    """One CLIENT LIST line (without the newline); ``argv`` is the running command's."""
    proto = client.protocol
    transport = proto.transport if proto is not None else None
    fd = -1
    qbuf = omem = 0
    if transport is not None:
        sock = transport.get_extra_info("socket")
        fd = sock.fileno() if sock is not None else -1
        omem = transport.get_write_buffer_size()
    if proto is not None:
        qbuf = proto.parser.buffered()
    argv_mem = sum(len(a) for a in argv) if argv else 0
    multi_mem = sum(sum(len(a) for a in args) for _cmd, args in client.multi) if client.multi else 0
    tot_mem = qbuf + omem + argv_mem + multi_mem
    name = client.name.decode(errors="replace")
    events = "rw" if omem else "r"
    return (
        f"id={client.id} addr={client.addr} laddr={client.laddr} fd={fd} name={name} "
        f"age={int(now - client.created)} idle={int(now - client.last_interaction)} "
        f"flags={client.flags()} db={client.db} sub={len(client.channels)} psub={len(client.patterns)} "
        f"ssub={len(client.shard_channels)} multi={len(client.multi) if client.multi is not None else -1} "
        f"qbuf={qbuf} qbuf-free=0 argv-mem={argv_mem} multi-mem={multi_mem} rbs=0 rbp=0 "
        f"obl=0 oll=0 omem={omem} tot-mem={tot_mem} events={events} "
        f"cmd={client.last_command.decode(errors='replace')} user={client.user.text} redir=-1 resp={client.proto}"
    )


@command("client|id", 2, "noscript loading stale", acl="@connection", since="5.0.0", group="connection",
         summary="The unique, never reused, id of this connection.")
def client_id(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.client.id


@command("client|setname", 3, "noscript loading stale", acl="@connection", since="2.6.9", group="connection",
         summary="Name this connection (shown by CLIENT LIST); an empty name removes it.", args="connection-name")
def client_setname(ctx: Ctx, argv: list[bytes]) -> Any:
    name = argv[2]
    if any(c < 33 or c > 126 for c in name):
        raise errors.CLIENT_NAME_INVALID
    ctx.client.name = name
    return OK


@command("client|getname", 2, "noscript loading stale", acl="@connection", since="2.6.9", group="connection",
         summary="The name of this connection, or nil.")
def client_getname(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.client.name or None


@command("client|list", -2, "admin noscript loading stale", acl="@connection", since="2.4.0", group="connection",
         complexity="O(N) where N is the number of client connections",
         summary="One line per connection: address, age, database, subscriptions, buffers, last command...",
         args="[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]")
def client_list(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    clients: list["Client | None"]
    if len(argv) == 2:
        clients = list(server.clients.values())
    elif len(argv) == 4 and argv[2].lower() == b"type":
        kind = _parse_type(argv[3])
        clients = [c for c in server.clients.values() if client_type(c) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        clients = []
        for arg in argv[3:]:
            cid = string2ll(arg)
            if cid is None:
                raise errors.CLIENT_INVALID_ID
            clients.append(server.clients.get(cid))
    else:
        raise errors.SYNTAX
    now = time.time()
    lines = []
    for c in clients:
        if c is not None and not c.killed:  # a killed connection is gone, even before its socket closes
            lines.append(client_info_line(c, now, argv if c is ctx.client else None) + "\n")
    return Verbatim("".join(lines).encode())


@command("client|info", 2, "noscript loading stale", acl="@connection", since="6.2.0", group="connection",
         summary="The CLIENT LIST line of this connection.")
def client_info(ctx: Ctx, argv: list[bytes]) -> Any:
    return Verbatim((client_info_line(ctx.client, time.time(), argv) + "\n").encode())


@command("client|kill", -3, "admin noscript loading stale", acl="@connection", since="2.4.0", group="connection",
         complexity="O(N) where N is the number of client connections",
         summary="Close connections chosen by address, id, type or user (the old form names one address).",
         args="ip:port | [ID client-id] [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] [USER username] "
              "[ADDR ip:port] [LADDR ip:port] [SKIPME <YES | NO>]")
def client_kill(ctx: Ctx, argv: list[bytes]) -> Any:
    server, me = ctx.server, ctx.client
    if len(argv) == 3:
        addr = argv[2].decode(errors="replace")
        for c in server.clients.values():
            if c.addr == addr:
                _kill(c, me)
                return OK
        raise errors.CLIENT_NO_SUCH_CLIENT
    if len(argv) % 2:
        raise errors.SYNTAX
    cid = None
    kind = addr = laddr = user = None
    skipme = True
    for i in range(2, len(argv), 2):
        opt, value = argv[i].lower(), argv[i + 1]
        if opt == b"id":
            n = string2ll(value)
            if n is None or n <= 0:
                raise errors.CLIENT_ID_NOT_POSITIVE
            cid = n
        elif opt == b"type":
            kind = _parse_type(value)
        elif opt == b"addr":
            addr = value.decode(errors="replace")
        elif opt == b"laddr":
            laddr = value.decode(errors="replace")
        elif opt == b"user":
            user = ctx.server.acl.get(value)
            if user is None:
                raise errors.client_no_such_user(value)
        elif opt == b"skipme":
            if value.lower() == b"yes":
                skipme = True
            elif value.lower() == b"no":
                skipme = False
            else:
                raise errors.SYNTAX
        else:
            raise errors.SYNTAX
    killed = 0
    for c in list(server.clients.values()):
        if (
            (cid is not None and c.id != cid)
            or (kind is not None and client_type(c) != kind)
            or (addr is not None and c.addr != addr)
            or (laddr is not None and c.laddr != laddr)
            or (user is not None and c.user is not user)
            or (skipme and c is me)
        ):
            continue
        _kill(c, me)
        killed += 1
    return killed


def _kill(client: "Client", me: "Client") -> None:
    if client is me:
        client.close_after_reply = True  # Redis answers first, then closes
    else:
        client.kill()


@command("client|no-evict", 3, "admin noscript loading stale", acl="@connection", since="7.0.0", group="connection",
         summary="Exempt this connection from the maxmemory checks (ON) or not (OFF).", args="<ON | OFF>")
def client_no_evict(ctx: Ctx, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode not in (b"on", b"off"):
        raise errors.SYNTAX
    ctx.client.no_evict = mode == b"on"
    return OK


@command("client|reply", 3, "noscript loading stale", acl="@connection", since="3.2.0", group="connection",
         summary="Replies are always sent on this engine: ON is accepted, OFF and SKIP are refused.",
         args="<ON | OFF | SKIP>")
def client_reply(ctx: Ctx, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"on":
        return OK
    if mode in (b"off", b"skip"):
        raise errors.CLIENT_REPLY_UNSUPPORTED
    raise errors.SYNTAX


@command("client|tracking", -3, "noscript loading stale", acl="@connection", since="6.0.0", group="connection",
         summary="Client-side caching is not supported by this engine: ON is refused, OFF is accepted.",
         args="<ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]")
def client_tracking(ctx: Ctx, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"off":
        return OK
    if mode == b"on":
        raise errors.CLIENT_TRACKING_UNSUPPORTED
    raise errors.SYNTAX


@command("client|trackinginfo", 2, "noscript loading stale", acl="@connection", since="6.2.0", group="connection",
         summary="Tracking state of this connection (always off).")
def client_trackinginfo(ctx: Ctx, argv: list[bytes]) -> Any:
    return Map([(b"flags", SetReply([b"off"])), (b"redirect", -1), (b"prefixes", [])])


@command("client|getredir", 2, "noscript loading stale", acl="@connection", since="6.0.0", group="connection",
         summary="Where tracking invalidations are redirected: -1, tracking is off.")
def client_getredir(ctx: Ctx, argv: list[bytes]) -> Any:
    return -1


@command("client|caching", 3, "noscript loading stale", acl="@connection", since="6.0.0", group="connection",
         summary="Only meaningful with tracking, which this engine doesn't support.", args="<YES | NO>")
def client_caching(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.CLIENT_CACHING_NOT_TRACKING


@command("client|pause", -3, "admin noscript loading stale", acl="@connection", since="2.9.50", group="connection",
         summary="Not supported by this engine (pausing clients needs the dispatcher); arguments are checked.",
         args="timeout:integer [WRITE | ALL]")
def client_pause(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise errors.subcommand_syntax_error(argv, "client")
    timeout = string2ll(argv[2])
    if timeout is None:
        raise errors.TIMEOUT_NOT_INTEGER
    if timeout < 0:
        raise errors.TIMEOUT_NEGATIVE
    if len(argv) == 4 and argv[3].lower() not in (b"write", b"all"):
        raise errors.CLIENT_PAUSE_MODE
    raise errors.CLIENT_PAUSE_UNSUPPORTED


@command("client|unpause", 2, "admin noscript loading stale", acl="@connection", since="6.2.0", group="connection",
         summary="End a client pause (there is never one on this engine).")
def client_unpause(ctx: Ctx, argv: list[bytes]) -> Any:
    return OK


@command("client|unblock", -3, "admin noscript loading stale", acl="@connection", since="5.0.0", group="connection",
         complexity="O(log N) where N is the number of client connections",
         summary="Wake a client blocked in a blocking command, as a timeout or with an error.",
         args="client-id [TIMEOUT | ERROR]")
def client_unblock(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise errors.subcommand_syntax_error(argv, "client")
    cid = string2ll(argv[2])
    if cid is None:
        raise errors.NOT_INTEGER
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason not in (b"timeout", b"error"):
            raise errors.CLIENT_UNBLOCK_REASON
        error = reason == b"error"
    # Each family of blocking commands keeps its parked clients in a registry of the server's.
    return int(ctx.server.blocked.unblock_client(cid, error))


@command("client|help", 2, "loading stale", acl="@connection", since="5.0.0", group="connection",
         summary="Show the CLIENT subcommands.")
def client_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)
