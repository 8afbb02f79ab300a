"""The learner-user service: a user with an access string on the learner's durable
cluster, made the way MemoryDB makes one (CreateUser with an access string, then
the cluster takes it), never with ACL SETUSER from the console.

A learner sends ``{"type": "create_user", "name": ..., "access": "on ~k* -@all +get"}``;
the site checks the name and every token of the access string, derives the
password itself, and has the cluster's supervisor put the user on every data node,
replicas included (``sandbox.engine.supervisor_users``: the users file first, so a
node that restarts after a crash or a failover still has the user).

Invariants:
* the access string is built only from key patterns, channel patterns, command and
  category grants, ``on``/``off`` and the reset forms of patterns: no password
  rule (``>``, ``<``, ``#``, ``!``, ``nopass``, ``resetpass``), no ``reset``, no
  selectors, and no ``+@all``/``allcommands``. After the learner's rules come the
  denials of everything the supervisor owns (``APP_USER_RULES``'s ``-`` rules), so
  no access string can reach the supervisor's business whatever it grants;
* the password never leaves the server and is never stored: it is an HMAC of the
  user's name under the cluster's own secret password (``learner_password``), so the
  lab check that connects as the user derives it again;
* an owner has at most ``MAX_LEARNER_USERS`` users; counted on the cluster itself
  (``ACL USERS``), so a restarted sandbox, which starts without them, starts at 0;
  redefining an existing user does not count twice;
* nothing is changed while a data node is paused (it would miss the user and keep
  serving without it once resumed); one change per sandbox at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from typing import Any

from sandbox.backends import ClusterUser
from sandbox.engine.supervisor_spec import APP_USER_RULES
from sandbox.engine.supervisor_users import UserRefused, check_user
from sandbox.live import LiveSandbox
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.resp import ErrorReply
from sandbox.service.lifecycle import Lifecycle

CLUSTER = "durable"
MAX_LEARNER_USERS = 5
MAX_RULES = 40
USER_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
# Names the site's own users take (``ClusterUser.random``): never a learner's.
RESERVED_PREFIXES = ("durable-", "cache-")
RESERVED_NAMES = ("default", "supervisor")
# Every token an access string may hold: patterns (printable ASCII, no space),
# command and category grants, and the plain switches.
_PATTERN = r"[!-~]+"
ACCESS_TOKEN = re.compile(
    rf"(?:%(?:R|W|RW))?~{_PATTERN}|&{_PATTERN}|[+-]@[a-z_]+|[+-][a-z][a-z0-9_-]*(?:\|[a-z][a-z0-9_-]*)?"
    r"|on|off|allkeys|resetkeys|allchannels|resetchannels|nocommands"
)
FORBIDDEN = {"+@all": "grants every command", "allcommands": "grants every command"}
SUPERVISOR_DENIALS = [rule for rule in APP_USER_RULES.split() if rule.startswith("-")]


def learner_password(app_user: ClusterUser, name: str) -> str:
    """The password of learner user ``name`` on the cluster whose site user is
    ``app_user``: only the server knows ``app_user.password``, so only it can."""
    return hmac.new(app_user.password.encode(), b"learner-user:" + name.encode(), hashlib.sha256).hexdigest()


def access_rules(access: str) -> list[str]:
    """The learner's access string as ACL rules, or the ClientError saying which
    token is refused and why. The supervisor's denials are not added here."""
    tokens = access.split()
    if not tokens:
        raise ClientError("bad_access", "The access string is empty.")
    if len(tokens) > MAX_RULES:
        raise ClientError("bad_access", f"An access string has at most {MAX_RULES} rules.")
    for token in tokens:
        lowered = token.lower()
        if lowered in FORBIDDEN:
            raise ClientError("forbidden_access", f"{token} {FORBIDDEN[lowered]}: grant only what the component uses.",
                              token=token)
        if token[:1] in (">", "<", "#", "!") or lowered in ("nopass", "resetpass"):
            raise ClientError("forbidden_access", "Passwords are not part of an access string: the site makes "
                              "the password, as MemoryDB sets it on the user through its API.", token=token)
        if not ACCESS_TOKEN.fullmatch(token if token[:1] in "~%&" else lowered):
            raise ClientError("forbidden_access", f"{token[:40]} is not allowed in a sandbox access string.",
                              token=token[:40])
    return [t if t[:1] in "~%&" else t.lower() for t in tokens]


def check_name(name: str) -> None:
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise ClientError("bad_user_name", "That user name is reserved: choose another.")


class LearnerUsers:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._locks: dict[str, asyncio.Lock] = {}  # by sandbox uuid, only of live sandboxes

    async def create(self, owner: Owner, name: str, access: str) -> dict[str, Any]:
        """Create or redefine ``name`` on the owner's durable cluster; what the page shows."""
        check_name(name)
        rules = access_rules(access)
        full = [*rules, *SUPERVISOR_DENIALS]
        try:  # the engine's own parser: what a node would refuse is refused here, first
            check_user(name, full, ())
        except UserRefused as exc:
            raise ClientError("bad_access", str(exc)) from None
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        app_user = live.clients.probe[CLUSTER].user
        self._forget_stopped()
        async with self._locks.setdefault(live.uuid, asyncio.Lock()):
            topology = live.topology(CLUSTER)
            if any(p.status == "paused" for p in topology.data_nodes()):
                raise ClientError("busy", "A node of the durable cluster is paused: create the user once it runs.")
            existing = await self.names(live)
            if name not in existing and len(existing) >= MAX_LEARNER_USERS:
                raise ClientError("too_many_users", limit=MAX_LEARNER_USERS)
            control = live.handle.clusters[CLUSTER]  # type: ignore[union-attr]
            outcome = await control.put_user(name, learner_password(app_user, name), full)
        if not outcome["applied"]:
            raise ClientError("busy", "No node of the durable cluster took the user: try again in a moment.")
        return {"name": name, "access": " ".join(rules), "users": sorted({*existing, name}),
                "nodes": len(outcome["applied"]), "pending": len(outcome["pending"])}

    def _forget_stopped(self) -> None:
        live = {sandbox.uuid for sandbox in self.lifecycle.live.values()}
        for uuid in [u for u in self._locks if u not in live]:
            del self._locks[uuid]

    async def names(self, live: LiveSandbox) -> list[str]:
        """The learner's users on the durable cluster (not the site's, not the built-in ones)."""
        probe = live.clients.probe[CLUSTER]
        address = next((a for a in probe.slot_primary if a is not None), None)
        if address is None:
            raise ClientError("busy", "The durable cluster has no primary right now: try again in a moment.")
        reply = await probe.call(address, "ACL", "USERS")
        if isinstance(reply, ErrorReply) or not isinstance(reply, list):
            raise ClientError("busy", f"The durable cluster answered: {reply}")
        site = probe.user.username
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in reply]
        return [n for n in names if n not in (*RESERVED_NAMES, site)]
