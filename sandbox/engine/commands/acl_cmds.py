"""ACL: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, DRYRUN, LOG,
LOAD, SAVE and HELP, with Redis 7.0's replies and error texts.

The users live in ``server.acl`` (``acl_users.AclUsers``); the rules and their
descriptions in ``acl``. This module adds what only a running node knows: its
connections. Deleting a user closes the connections logged in as it; ACL SETUSER
closes the subscribers whose subscriptions the new rules no longer allow; ACL LOAD
closes every connection of a replaced user. The calling connection, if it is one of
them, gets its reply first (Redis's close-after-reply).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

from .. import errors
from ..acl import DENIED_CHANNEL, DENIED_CMD, DENIED_KEY, SetUserError, UnmatchedParenthesis, User, has_spaces
from ..acl_catalog import CATEGORIES, catalog
from ..acl_users import AclFileError, log_reply, lost_channels
from ..context import Ctx
from ..resp import OK, Map, SetReply, string2ll
from . import REGISTRY, Command, command, container
from .util import help_reply

if TYPE_CHECKING:
    from ..client import Client

container("acl", "Manage the node's users and what they may run (Redis 7.0 ACL).", "6.0.0", "server")

_FLAGS = "admin noscript loading stale"
_READ_FLAGS = "noscript loading stale"
_HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]


def _close(clients: Iterable["Client"], me: "Client") -> None:
    for client in clients:
        if client is me:
            client.close_after_reply = True
        else:
            client.kill()


@command("acl|setuser", -3, _FLAGS, since="6.0.0", group="server",
         complexity="O(N). Where N is the number of rules provided.",
         summary="Create a user or change its rules (all of them apply, or none).",
         args="username [rule [rule ...]]")
def acl_setuser(ctx: Ctx, argv: list[bytes]) -> Any:
    name = argv[2]
    if has_spaces(name):
        raise errors.ACL_USERNAME_SPACES
    server = ctx.server
    try:
        user = server.acl.setuser(name, argv[3:])
    except UnmatchedParenthesis as err:
        raise errors.acl_unmatched_parenthesis(err.start) from None
    except SetUserError as err:
        raise errors.acl_setuser_error(err.rule, err.reason) from None
    _close(lost_channels(user, list(server.clients.values())), ctx.client)
    return OK


@command("acl|getuser", 3, _FLAGS, since="6.0.0", group="server",
         complexity="O(N). Where N is the number of password, command and pattern rules that the user has.",
         summary="A user's flags, password hashes, commands, keys, channels and selectors.", args="username")
def acl_getuser(ctx: Ctx, argv: list[bytes]) -> Any:
    user = ctx.server.acl.get(argv[2])
    return None if user is None else Map(_getuser_fields(user))


def _getuser_fields(user: User) -> list[tuple[bytes, Any]]:
    """ACL GETUSER's fields: flags, password hashes, then the root selector's commands,
    keys and channels, and each other selector's."""
    root = user.root
    return [
        (b"flags", SetReply(user.flags())),
        (b"passwords", list(user.passwords)),
        (b"commands", root.describe_commands()),
        (b"keys", root.describe_keys()),
        (b"channels", root.describe_channels()),
        (b"selectors", [
            Map([(b"commands", s.describe_commands()), (b"keys", s.describe_keys()),
                 (b"channels", s.describe_channels())])
            for s in user.selectors
        ]),
    ]


@command("acl|deluser", -3, _FLAGS, since="6.0.0", group="server",
         complexity="O(1) amortized time considering the typical user.",
         summary="Delete users and close their connections; returns how many existed.",
         args="username [username ...]")
def acl_deluser(ctx: Ctx, argv: list[bytes]) -> Any:
    acl = ctx.server.acl
    if b"default" in argv[2:]:
        raise errors.ACL_DEFAULT_USER_UNDELETABLE
    deleted = [u for u in (acl.users.pop(name, None) for name in dict.fromkeys(argv[2:])) if u is not None]
    gone = {id(u) for u in deleted}
    _close([c for c in list(ctx.server.clients.values()) if id(c.user) in gone], ctx.client)
    return len(deleted)


@command("acl|list", 2, _FLAGS, since="6.0.0", group="server",
         complexity="O(N). Where N is the number of configured users.",
         summary="Every user as a line of the ACL file format.")
def acl_list(ctx: Ctx, argv: list[bytes]) -> Any:
    acl = ctx.server.acl
    return [b"user " + name + b" " + acl.users[name].describe() for name in acl.names()]


@command("acl|users", 2, _FLAGS, since="6.0.0", group="server",
         complexity="O(N). Where N is the number of configured users.", summary="The names of every user.")
def acl_users(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.server.acl.names()


@command("acl|whoami", 2, _READ_FLAGS, since="6.0.0", group="server",
         summary="The user this connection is logged in as.")
def acl_whoami(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.client.user.name


@command("acl|cat", -2, _READ_FLAGS, since="6.0.0", group="server",
         complexity="O(1) since the categories and commands are a fixed set.",
         summary="The ACL categories, or the commands of one (Redis 7.0's, including commands this engine lacks).",
         args="[categoryname]")
def acl_cat(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv, "acl")
    if len(argv) == 2:
        return [c.encode() for c in CATEGORIES]
    members = catalog().members.get(argv[2].decode("latin-1").lower())
    if members is None:
        raise errors.acl_unknown_category(argv[2])
    return [name.encode() for name in members]


@command("acl|genpass", -2, _READ_FLAGS, since="6.0.0", group="server",
         summary="A random password: 256 bits (or the given number) as hex digits.", args="[bits]")
def acl_genpass(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv, "acl")
    bits = 256
    if len(argv) == 3:
        given = string2ll(argv[2])
        if given is None:
            raise errors.NOT_INTEGER
        if not 0 < given <= 4096:
            raise errors.ACL_GENPASS_BITS
        bits = given
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars].encode()


@command("acl|log", -2, _FLAGS, since="6.0.0", group="server",
         complexity="O(N) with N being the number of entries shown.",
         summary="The latest denials (commands, keys, channels, logins), newest first; RESET empties the log.",
         args="[count | RESET]")
def acl_log(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv, "acl")
    acl = ctx.server.acl
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return OK
        given = string2ll(argv[2])
        if given is None:
            raise errors.NOT_INTEGER
        count = max(given, 0)
    return log_reply(acl.log[:count], ctx.now_ms)


@command("acl|dryrun", -4, _FLAGS, since="7.0.0", group="server", complexity="O(1).",
         summary="Whether a user may run a command with these arguments, without running it.",
         args="username command [arg [arg ...]]")
def acl_dryrun(ctx: Ctx, argv: list[bytes]) -> Any:
    user = ctx.server.acl.get(argv[2])
    if user is None:
        raise errors.acl_user_not_found(argv[2])
    call = argv[3:]
    cmd = _lookup(call)
    denied = user.check(cmd, call)
    if denied is None:
        return OK
    reason, index = denied
    if reason == DENIED_CMD:
        return b"This user has no permissions to run the '" + cmd.name_bytes + b"' command"
    kind = b"key" if reason == DENIED_KEY else b"channel"
    assert reason in (DENIED_KEY, DENIED_CHANNEL)
    return b"This user has no permissions to access the '" + call[index] + b"' " + kind


def _lookup(call: list[bytes]) -> Command:
    """The command DRYRUN asks about, with its arity checked (Redis's wording)."""
    cmd = REGISTRY.get(call[0].lower())
    if cmd is not None and cmd.subcommands and len(call) >= 2:
        sub = cmd.subcommands.get(call[1].lower())
        if sub is not None:
            cmd = sub
        elif cmd.handler is None:
            cmd = None
    if cmd is None:
        raise errors.acl_command_not_found(call[0])
    if (cmd.arity > 0 and len(call) != cmd.arity) or len(call) < -cmd.arity:
        raise errors.wrong_arity(cmd.name)
    return cmd


@command("acl|load", 2, _FLAGS, since="6.0.0", group="server",
         complexity="O(N). Where N is the number of configured users.",
         summary="Replace every user with the ACL file's (all or nothing); their connections close.")
def acl_load(ctx: Ctx, argv: list[bytes]) -> Any:
    acl = ctx.server.acl
    if not acl.aclfile:
        raise errors.ACL_NO_ACLFILE
    try:
        replaced = acl.load()
    except AclFileError as err:
        raise errors.acl_file_error(str(err)) from None
    gone = {id(u) for u in replaced}
    _close([c for c in list(ctx.server.clients.values()) if id(c.user) in gone], ctx.client)
    return OK


@command("acl|save", 2, _FLAGS, since="6.0.0", group="server",
         complexity="O(N). Where N is the number of configured users.",
         summary="Write every user to the ACL file.")
def acl_save(ctx: Ctx, argv: list[bytes]) -> Any:
    acl = ctx.server.acl
    if not acl.aclfile:
        raise errors.ACL_NO_ACLFILE
    try:
        acl.save()
    except OSError as exc:
        ctx.server.log_event(f"ACL SAVE failed: {exc}")
        raise errors.ACL_SAVE_FAILED from None
    return OK


@command("acl|help", 2, "loading stale", since="6.0.0", group="server", summary="Show the ACL subcommands.")
def acl_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)
