"""Users added to a running cluster, the way MemoryDB adds them: through the
operator (CreateUser with an access string, then UpdateCluster), never through ACL
SETUSER from a client. ``put_user`` defines (or redefines) one user on every data
node of a ``Supervisor``'s cluster, replicas included.

Invariants:
* the cluster's users file (``DIR/users.acl``, 0600, password hashes only) gets the
  user before any node is told, so a node that crashes and restarts, or one that is
  restarted by hand, loads it from the file as it loads the application user; the
  supervisor keeps the file's text, so a start of the same Supervisor writes it too;
* every running data node is then sent ``ACL SETUSER name reset #hash <rules>`` as
  the supervisor's user (the only user allowed ACL SETUSER); ``reset`` first, so a
  redefinition replaces the old rules instead of adding to them;
* ``default``, the supervisor's user and the application user cannot be put: a
  caller could otherwise lock the supervisor or the site out;
* the rules are checked with the engine's own ACL parser first, so a rule the nodes
  would refuse changes nothing anywhere.

This module reaches into the Supervisor it serves (its file text, its private-file
writer and its authenticated send), as a part of it kept in its own file because
supervisor.py is at the module-size limit.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .acl import SetUserError, UnmatchedParenthesis, has_spaces, new_user, password_hash
from .supervisor_spec import SUPERVISOR_USER

if TYPE_CHECKING:
    from .supervisor import Supervisor

PUT_TIMEOUT_S = 1.0  # per node: a running node answers ACL SETUSER in microseconds


class UserRefused(ValueError):
    """The user cannot be put (a reserved name, or rules the engine refuses); nothing changed."""


def with_user(text: str, name: str, line: str) -> str:
    """The users file ``text`` with ``name``'s line replaced by ``line`` (or added)."""
    kept = [old for old in text.splitlines() if old.split(" ", 2)[:2] != ["user", name]]
    return "\n".join([*kept, line]) + "\n"


def check_user(name: str, rules: list[str], reserved: tuple[str, ...]) -> None:
    """Raise UserRefused unless a node would accept ``name`` with ``rules``."""
    if not name or has_spaces(name.encode()) or name in ("default", SUPERVISOR_USER, *reserved):
        raise UserRefused(f"the user name {name!r} is reserved or unusable")
    try:
        new_user(name.encode(), [r.encode() for r in rules])
    except SetUserError as exc:
        rule = exc.rule.decode(errors="replace")
        raise UserRefused(f"Error in ACL SETUSER modifier '{rule}': {exc.reason}") from None
    except UnmatchedParenthesis:
        raise UserRefused("Unmatched parenthesis in acl selector starting at a rule") from None


async def put_user(sup: "Supervisor", name: str, password: str, rules: list[str]) -> dict[str, list[str]]:
    """Define ``name`` (password ``password``, ACL ``rules``) on every data node.

    Returns {"applied": node ids that answered OK, "pending": node ids not running
    now, which load the user from the file when they start}. Raises UserRefused
    before anything changes."""
    check_user(name, rules, (sup.spec.username,) if sup.spec.username else ())
    digest = "#" + password_hash(password.encode()).decode()
    sup._users_file_text = with_user(sup._users_file_text, name, " ".join(["user", name, digest, *rules]))
    sup._write_private("users.acl", sup._users_file_text)
    nodes = [p for p in sup.procs.values() if p.kind == "data"]
    running = [p for p in nodes if p.status == "running"]
    replies = await asyncio.gather(
        *(sup._send(p, "ACL", "SETUSER", name, "reset", digest, *rules, timeout=PUT_TIMEOUT_S) for p in running),
        return_exceptions=True,
    )
    applied = [p.id for p, reply in zip(running, replies) if reply in (b"OK", "OK")]
    return {"applied": applied, "pending": [p.id for p in nodes if p.id not in applied]}
