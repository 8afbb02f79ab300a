"""A node's ACL users: the table, logging in, the ACL log and the ACL file.

Invariants:
* The ``default`` user always exists and is always the same object (connections
  point at it). ``requirepass`` is its password, as in Redis: setting it means
  ``resetpass >password``, setting it to "" means ``nopass``.
* Loading an ACL file is all or nothing: every line is checked first, and any error
  leaves the users as they were. The file replaces every user; the default user keeps
  its object and takes the file's definition (Redis's defaults if the file has none).
* The log holds at most ``LOG_MAX`` entries, newest first. A denial like one logged
  in the last minute (same reason, context, object and user) counts on that entry.
* Closing connections is the caller's business (it knows the clients): ``deleted``
  users' connections and subscribers that lost a channel (``lost_channels``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from .acl import (
    DENIED_AUTH,
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    SetUserError,
    UnmatchedParenthesis,
    User,
    default_user,
    has_spaces,
    merge_selectors,
)

if TYPE_CHECKING:
    from .client import Client

LOG_MAX = 128
LOG_GROUPING_MS = 60_000
_REASONS = {DENIED_CMD: b"command", DENIED_KEY: b"key", DENIED_CHANNEL: b"channel", DENIED_AUTH: b"auth"}


class AclFileError(Exception):
    """The ACL file can't be used; the message says where and why (Redis's wording)."""


@dataclass
class LogEntry:
    count: int
    reason: bytes
    context: bytes
    obj: bytes
    username: bytes
    ctime_ms: int
    client_info: bytes


class AclUsers:
    def __init__(self, requirepass: str | None = None, aclfile: str = "") -> None:
        self.default = default_user()
        self.users: dict[bytes, User] = {b"default": self.default}
        self.log: list[LogEntry] = []
        self.aclfile = aclfile
        if requirepass:
            self.set_default_password(requirepass)
        if aclfile:
            self.load()

    # -- users -----------------------------------------------------------------------------
    def get(self, name: bytes) -> User | None:
        return self.users.get(name)

    def names(self) -> list[bytes]:
        return sorted(self.users)

    def set_default_password(self, password: str) -> None:
        """``requirepass`` (at start and on CONFIG SET)."""
        self.default.set([b"resetpass", b">" + password.encode()] if password else [b"nopass"])

    def setuser(self, name: bytes, rules: list[bytes]) -> User:
        """Create or change a user (raises SetUserError / UnmatchedParenthesis; nothing changes then)."""
        user = self.users.get(name)
        if user is None:
            user = User(name)
            user.set(rules)
            self.users[name] = user
        else:
            user.set(rules)
        return user

    def authenticate(self, name: bytes, password: bytes) -> User | None:
        user = self.users.get(name)
        if user is None or not user.enabled or not user.password_ok(password):
            return None
        return user

    def default_needs_auth(self) -> bool:
        """Whether a connection that never logged in must (Redis's authRequired)."""
        default = self.default
        return not default.nopass or not default.enabled

    # -- the log -----------------------------------------------------------------------------
    def log_denial(self, reason: int, context: bytes, obj: bytes, username: bytes, client_info: bytes,
                   now_ms: int) -> None:
        now = now_ms
        entry = LogEntry(1, _REASONS[reason], context, obj, username, now, client_info)
        for i, old in enumerate(self.log):
            if (old.reason, old.context, old.obj, old.username) == (entry.reason, entry.context, entry.obj,
                                                                    entry.username) \
                    and now - old.ctime_ms <= LOG_GROUPING_MS:
                old.count += 1
                old.ctime_ms, old.client_info = now, client_info
                del self.log[i]
                self.log.insert(0, old)
                return
        self.log.insert(0, entry)
        del self.log[LOG_MAX:]

    # -- the ACL file --------------------------------------------------------------------------
    def load(self) -> list[User]:
        """Replace every user with the file's; returns the users replaced (their
        connections must close). Raises AclFileError, changing nothing."""
        loaded = self._read(self.aclfile)
        replaced = [u for name, u in self.users.items() if name != b"default"]
        new_default = loaded.pop(b"default", None) or default_user()
        self.default.assign(new_default)
        self.users = {b"default": self.default, **loaded}
        return replaced

    def save(self) -> None:
        """Write every user to the ACL file (a new file renamed over the old one, with
        the old one's permissions; private if there was none)."""
        directory = os.path.dirname(os.path.abspath(self.aclfile))
        try:
            mode = os.stat(self.aclfile).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
        fd, tmp = tempfile.mkstemp(prefix=".acl-", dir=directory)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                for name in self.names():
                    f.write(b"user " + name + b" " + self.users[name].describe() + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.aclfile)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _read(self, path: str) -> dict[bytes, User]:
        try:
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError as exc:
            raise AclFileError(f"Error loading ACLs, opening file '{path}': {exc.strerror}") from None
        users: dict[bytes, User] = {}
        problems: list[str] = []
        for number, line in enumerate(lines, 1):
            problem = _parse_line(path, number, line.strip(b" \t\r\n"), users)
            if problem:
                problems.append(problem)
        if problems:
            raise AclFileError(
                "".join(problems)
                + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
            )
        return users


def _parse_line(path: str, number: int, line: bytes, users: dict[bytes, User]) -> str:
    """Add the line's user to ``users``; return what is wrong with it, or ""."""
    if not line:
        return ""
    words = line.split(b" ")  # single spaces, as Redis splits the file's lines
    if words[0] != b"user" or len(words) < 2:
        return f"{path}:{number} should start with user keyword followed by the username. "
    name = words[1]
    text = name.decode(errors="replace")
    if has_spaces(name):
        return f"'{path}:{number}: username '{text}' contains invalid characters. "
    if name in users:
        return f"WARNING: Duplicate user '{text}' found on line {number}. "
    try:
        rules = merge_selectors(words[2:])
    except UnmatchedParenthesis:
        return f"{path}:{number}: Unmatched parenthesis in selector definition."
    user = User(name)
    try:
        user.set([r.strip(b"\t\r\n") for r in rules])
    except SetUserError as err:
        return f"{path}:{number}: {err.reason}. "
    users[name] = user
    return ""


def check_aclfile(path: str) -> None:
    """Raise AclFileError if the file can't be loaded (the CLI checks before listening)."""
    AclUsers(aclfile=path)


def lost_channels(user: User, clients: Iterable["Client"]) -> list["Client"]:
    """The subscribers logged in as ``user`` with a subscription it no longer allows
    (Redis 7.0 disconnects them when ACL SETUSER narrows the user's channels)."""
    allowed = user.channel_patterns()
    if allowed is None:
        return []
    from .glob import match

    def ok(channel: bytes) -> bool:
        return any(match(p, channel) for p in allowed)  # type: ignore[union-attr]

    out = []
    for client in clients:
        if client.user is not user or not client.in_pubsub:
            continue
        if any(p not in allowed for p in client.patterns) or not all(
            ok(c) for c in (*client.channels, *client.shard_channels)
        ):
            out.append(client)
    return out


def log_reply(entries: list[LogEntry], now_ms: int) -> list[Any]:
    from .resp import Double, Map

    return [
        Map([
            (b"count", e.count), (b"reason", e.reason), (b"context", e.context), (b"object", e.obj),
            (b"username", e.username), (b"age-seconds", Double((now_ms - e.ctime_ms) / 1000)),
            (b"client-info", e.client_info),
        ])
        for e in entries
    ]
