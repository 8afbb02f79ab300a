"""ACL users and what they may run, with Redis 7.0's rules and descriptions.

A ``User`` has a name, flags (on/off, nopass, sanitize-payload), SHA-256 password
hashes and its selectors: the root one, plus any added with ``(...)``. A
``Selector`` holds three permissions that are checked together: commands (and
first arguments, ``+select|0``), key patterns with read/write flags, and channel
patterns. A command may run when one selector allows the command, each of its keys
and each of its channels.

Invariants:
* ``User.unrestricted`` is True exactly when the root selector allows every
  command, key and channel. The dispatcher checks nothing more for such a user (the
  default user costs one attribute read per command). ``User.runs_anywhere`` holds
  the commands the root selector allows on every key and channel: for those the
  dispatcher needs one set lookup. Every change recomputes both.
* ``User.set`` applies a list of rules to a copy and commits it only if all of them
  are valid (ACL SETUSER is all or nothing). The result is copied into the same
  object, so connections logged in as the user see the change at once.
* Descriptions (ACL LIST, GETUSER) come from the permissions, not from the rules as
  given: ``+@all`` or ``-@all``, then the categories that fit best, then single
  commands. Redis lists single commands in its hash table's order, which differs
  in every process; here they come in name order.
* Error texts are Redis 7.0's, kept in the errors package (``ACL_*`` reasons; the dispatcher
  takes ``NOPERM_*`` from there too).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Callable, Iterable

from .acl_catalog import Catalog, catalog, fitting_categories
from .commands.keyspecs import READ, READ_WRITE, WRITE, key_permissions
from .errors import (
    ACL_BAD_HASH,
    ACL_CHANNELS_AFTER_ALL,
    ACL_KEYS_AFTER_ALL,
    ACL_NO_SUCH_PASSWORD,
    ACL_SUBCOMMAND_FIRST_ARG,
    ACL_SYNTAX,
    ACL_UNKNOWN,
)
from .glob import match as glob_match

if TYPE_CHECKING:
    from .commands import Command

# Why a command was denied, by increasing relevance (Redis's ACL_DENIED_* order).
DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 1, 2, 3, 4

_SPACES = frozenset(b" \t\n\r\v\f\x00")
_HEX = frozenset(b"0123456789abcdef")


class RuleError(Exception):
    """An invalid rule; ``reason`` is Redis's text for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SetUserError(Exception):
    """A rule of ACL SETUSER (or of an ACL file line) failed: ``rule`` and ``reason``."""

    def __init__(self, rule: bytes, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


class UnmatchedParenthesis(Exception):
    """A selector ``(...)`` that never closes; ``start`` is the argument that opened it."""

    def __init__(self, start: bytes) -> None:
        super().__init__(start)
        self.start = start


def has_spaces(s: bytes) -> bool:
    """Redis refuses whitespace and NUL in user names and patterns."""
    return any(c in _SPACES for c in s)


def password_hash(password: bytes) -> bytes:
    return hashlib.sha256(password).hexdigest().encode()


def _valid_hash(h: bytes) -> bool:
    return len(h) == 64 and all(c in _HEX for c in h)


# ---------------------------------------------------------------------------------------
# Selectors


class Selector:
    """One set of command, key and channel permissions."""

    __slots__ = ("commands", "future", "all_commands", "first_args", "allkeys", "keys", "allchannels", "channels",
                 "_matchers")

    def __init__(self) -> None:
        self.commands: set[str] = set()  # full names allowed ("get", "client|list")
        self.future = False  # set by +@all: what ACL LIST shows as "+@all"
        self.all_commands = False  # +@all and nothing removed since: every command, no lookup
        self.first_args: dict[str, list[bytes]] = {}  # +select|0, for commands not allowed whole
        self.allkeys = False
        self.keys: dict[bytes, int] = {}  # pattern -> READ|WRITE, in the order first given
        self.allchannels = False
        self.channels: dict[bytes, None] = {}  # patterns, in the order given
        self._matchers: list[tuple[int, Callable[[bytes], bool]]] | None = None  # from keys, built on use

    def copy(self) -> "Selector":
        other = Selector()
        other.commands = set(self.commands)
        other.future, other.all_commands = self.future, self.all_commands
        other.first_args = {name: list(args) for name, args in self.first_args.items()}
        other.allkeys, other.keys = self.allkeys, dict(self.keys)
        other.allchannels, other.channels = self.allchannels, dict(self.channels)
        return other

    @property
    def unrestricted(self) -> bool:
        return self.all_commands and self.allkeys and self.allchannels

    # -- rules ---------------------------------------------------------------------------
    def apply(self, rule: bytes) -> None:
        """Apply one selector rule (raises RuleError if it is not one)."""
        if not rule:
            return  # Redis ignores an empty rule
        word = _SELECTOR_WORDS.get(rule.lower())
        if word is not None:
            word(self)
            return
        first = rule[:1]
        if first == b"~" or first == b"%":
            self._key_rule(rule)
        elif first == b"&":
            self._channel_rule(rule[1:])
        elif first == b"+" or first == b"-":
            self._command_rule(rule[:1] == b"+", rule[1:])
        else:
            raise RuleError(ACL_SYNTAX)

    def set_all_commands(self, allow: bool) -> None:
        self.first_args.clear()
        self.commands = set(catalog().categories) if allow else set()
        self.future = self.all_commands = allow

    def _allkeys(self) -> None:
        self.allkeys = True
        self.keys.clear()
        self._matchers = None

    def _resetkeys(self) -> None:
        self.allkeys = False
        self.keys.clear()
        self._matchers = None

    def _allchannels(self) -> None:
        self.allchannels = True
        self.channels.clear()

    def _resetchannels(self) -> None:
        self.allchannels = False
        self.channels.clear()

    def _key_rule(self, rule: bytes) -> None:
        if rule[:1] == b"%":
            perm, i = 0, 1
            while i < len(rule):
                c = rule[i : i + 1].upper()
                i += 1
                if c == b"R" and not perm & READ:
                    perm |= READ
                elif c == b"W" and not perm & WRITE:
                    perm |= WRITE
                elif c == b"~":
                    break
                else:
                    raise RuleError(ACL_SYNTAX)
            if not perm:
                raise RuleError(ACL_SYNTAX)
            pattern = rule[i:]
        else:
            perm, pattern = READ_WRITE, rule[1:]
        if pattern == b"*" and perm == READ_WRITE:
            self._allkeys()
            return
        if self.allkeys:
            raise RuleError(ACL_KEYS_AFTER_ALL)
        if has_spaces(pattern):
            raise RuleError(ACL_SYNTAX)
        self.keys[pattern] = self.keys.get(pattern, 0) | perm
        self._matchers = None

    def _channel_rule(self, pattern: bytes) -> None:
        if pattern == b"*":
            self._allchannels()
            return
        if self.allchannels:
            raise RuleError(ACL_CHANNELS_AFTER_ALL)
        if has_spaces(pattern):
            raise RuleError(ACL_SYNTAX)
        self.channels[pattern] = None

    def _command_rule(self, allow: bool, body: bytes) -> None:
        cat = catalog()
        if body[:1] == b"@":
            self._category_rule(allow, body[1:].decode("latin-1").lower(), cat)
            return
        head, bar, rest = body.partition(b"|")
        name = head.decode("latin-1").lower()
        if name not in cat.subcommands:
            raise RuleError(ACL_UNKNOWN)
        if not bar:
            self.change(name, allow, cat)
            return
        if not rest:
            raise RuleError(ACL_SYNTAX)
        if cat.subcommands[name]:
            sub, bar, _ = rest.partition(b"|")
            full = f"{name}|{sub.decode('latin-1').lower()}"
            if full not in cat.categories:
                raise RuleError(ACL_UNKNOWN)
            if bar:
                raise RuleError(ACL_SUBCOMMAND_FIRST_ARG)
            self.change(full, allow, cat)
            return
        # A command without subcommands: "+cmd|arg" allows it with that first argument.
        if not allow or b"|" in rest:
            raise RuleError(ACL_UNKNOWN)
        args = self.first_args.setdefault(name, [])
        if all(a.lower() != rest.lower() for a in args):
            args.append(rest)

    def _category_rule(self, allow: bool, category: str, cat: Catalog) -> None:
        if category == "all":
            self.set_all_commands(allow)
            return
        if category not in cat.members:
            raise RuleError(ACL_UNKNOWN)
        for name in cat.members[category]:
            self.change(name, allow, cat)

    def change(self, name: str, allow: bool, cat: Catalog) -> None:
        """Allow or deny one command with all its subcommands (Redis's ACLChangeSelectorPerm)."""
        names = (name, *cat.subcommands.get(name, ()))
        if allow:
            self.commands.update(names)
        else:
            self.commands.difference_update(names)
            self.all_commands = False
        self.first_args.pop(name, None)

    # -- checks ----------------------------------------------------------------------------
    def check(self, cmd: "Command", argv: list[bytes]) -> tuple[int, int] | None:
        """None if this selector allows the call, else (DENIED_*, index of the argument)."""
        if not self.all_commands and not cmd.no_auth and cmd.name not in self.commands:
            if not self._first_arg_allowed(cmd, argv):
                return DENIED_CMD, 0
        if not self.allkeys and (cmd.first_key or cmd.getkeys is not None) and "pubsub" not in cmd.acl:
            for index, perm in key_permissions(cmd, argv):
                if not self.key_allowed(argv[index], perm):
                    return DENIED_KEY, index
        if not self.allchannels:
            spec = CHANNEL_ARGS.get(cmd.name)
            if spec is not None:
                first, last, is_pattern = spec
                for index in range(first, len(argv) if last is None else min(last + 1, len(argv))):
                    if not self.channel_allowed(argv[index], is_pattern):
                        return DENIED_CHANNEL, index
        return None

    def _first_arg_allowed(self, cmd: "Command", argv: list[bytes]) -> bool:
        args = self.first_args.get(cmd.name)
        if not args or len(argv) < 2:
            return False
        given = argv[1].lower()
        return any(a.lower() == given for a in args)

    def key_allowed(self, key: bytes, perm: int) -> bool:
        if self.allkeys:
            return True
        matchers = self._matchers
        if matchers is None:
            matchers = self._matchers = [(flags, _matcher(p)) for p, flags in self.keys.items()]
        for flags, matches in matchers:
            if flags & perm == perm and matches(key):
                return True
        return False

    def channel_allowed(self, channel: bytes, is_pattern: bool) -> bool:
        """A channel matches the patterns; a subscription pattern must equal one of them."""
        if self.allchannels:
            return True
        if is_pattern:
            return channel in self.channels
        return any(glob_match(p, channel) for p in self.channels)

    def full_read_access(self, name: str) -> bool:
        """Whether this selector runs command ``name`` with read access to every key (SORT BY/GET)."""
        if not (self.all_commands or name in self.commands):
            return False
        return self.allkeys or any(p == b"*" and flags & READ for p, flags in self.keys.items())

    # -- descriptions ------------------------------------------------------------------------
    def describe(self) -> bytes:
        """This selector as ACL rules: keys, channels, commands."""
        parts = [self.describe_keys()] if self.allkeys or self.keys else []
        if self.allchannels:
            parts.append(b"&*")
        else:
            parts.append(b" ".join([b"resetchannels", *(b"&" + c for c in self.channels)]))
        parts.append(self.describe_commands())
        return b" ".join(parts)

    def describe_keys(self) -> bytes:
        if self.allkeys:
            return b"~*"
        return b" ".join(_KEY_PREFIX[flags] + pattern for pattern, flags in self.keys.items())

    def describe_channels(self) -> bytes:
        if self.allchannels:
            return b"&*"
        return b" ".join(b"&" + c for c in self.channels)

    def describe_commands(self) -> bytes:
        """``+@all``/``-@all``, the categories that fit best, then single commands."""
        cat = catalog()
        additive = not self.future
        fake = Selector()
        fake.set_all_commands(not additive)
        rules = [b"-@all" if additive else b"+@all"]
        for category in fitting_categories(self.commands, additive, cat):
            fake._category_rule(additive, category, cat)
            rules.append((b"+@" if additive else b"-@") + category.encode())
        for name, subs in cat.subcommands.items():
            allowed = name in self.commands
            if allowed != (name in fake.commands):
                rules.append((b"+" if allowed else b"-") + name.encode())
                fake.change(name, allowed, cat)
            for sub in subs:
                allowed = sub in self.commands
                if allowed != (sub in fake.commands):
                    rules.append((b"+" if allowed else b"-") + sub.encode())
                    fake.commands.add(sub) if allowed else fake.commands.discard(sub)
            if name not in self.commands:
                rules += [b"+" + name.encode() + b"|" + arg for arg in self.first_args.get(name, ())]
        return b" ".join(rules)


def _matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A fast test for the common glob patterns (a literal, ``prefix*``), else the glob."""
    head = pattern[:-1] if pattern[-1:] == b"*" else pattern
    if not any(c in b"*?[\\" for c in head):
        if head is pattern:
            return pattern.__eq__
        return lambda key: key.startswith(head)
    return lambda key: glob_match(pattern, key)


_KEY_PREFIX = {READ_WRITE: b"~", READ: b"%R~", WRITE: b"%W~"}
_SELECTOR_WORDS = {
    b"allkeys": Selector._allkeys,
    b"resetkeys": Selector._resetkeys,
    b"allchannels": Selector._allchannels,
    b"resetchannels": Selector._resetchannels,
    b"allcommands": lambda s: s.set_all_commands(True),
    b"nocommands": lambda s: s.set_all_commands(False),
}

# Commands whose arguments are channels: (first, last or None for all, patterns?).
CHANNEL_ARGS: dict[str, tuple[int, int | None, bool]] = {
    "publish": (1, 1, False),
    "spublish": (1, 1, False),
    "subscribe": (1, None, False),
    "ssubscribe": (1, None, False),
    "psubscribe": (1, None, True),
}


# ---------------------------------------------------------------------------------------
# Users


class User:
    """An ACL user. ``name`` is bytes, as Redis user names are binary-safe."""

    __slots__ = ("name", "enabled", "nopass", "sanitize", "passwords", "root", "selectors", "unrestricted",
                 "runs_anywhere")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = b""  # b"sanitize-payload", b"skip-sanitize-payload" or unset
        self.passwords: list[bytes] = []  # SHA-256 hex digests, in the order added
        self.root = Selector()
        self.selectors: list[Selector] = []
        self.unrestricted = False
        # Commands the root selector allows on any key and channel: for those, the
        # dispatcher needs one set lookup (the learner's user of a sandbox).
        self.runs_anywhere: set[str] | frozenset[str] = frozenset()

    def _refresh(self) -> None:
        root = self.root
        self.unrestricted = root.unrestricted
        self.runs_anywhere = root.commands if root.allkeys and root.allchannels else frozenset()

    @property
    def text(self) -> str:
        return self.name.decode(errors="replace")

    def copy(self) -> "User":
        other = User(self.name)
        other.assign(self)
        return other

    def assign(self, other: "User") -> None:
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.root = other.root.copy()
        self.selectors = [s.copy() for s in other.selectors]
        self._refresh()

    # -- rules ---------------------------------------------------------------------------
    def set(self, rules: list[bytes]) -> None:
        """Apply ACL SETUSER rules, all or none (raises SetUserError or UnmatchedParenthesis)."""
        draft = self.copy()
        for rule in merge_selectors(rules):
            try:
                draft.apply(rule)
            except RuleError as err:
                raise SetUserError(rule, err.reason) from None
        self.assign(draft)

    def apply(self, rule: bytes) -> None:
        word = rule.lower()
        simple = _USER_WORDS.get(word)
        if simple is not None:
            simple(self)
        elif word in (b"sanitize-payload", b"skip-sanitize-payload"):
            self.sanitize = word
        elif rule[:1] == b">":
            self._add_hash(password_hash(rule[1:]))
        elif rule[:1] == b"<":
            self._remove_hash(password_hash(rule[1:]))
        elif rule[:1] == b"#":
            self._add_hash(self._checked_hash(rule[1:]))
        elif rule[:1] == b"!":
            self._remove_hash(self._checked_hash(rule[1:]))
        elif len(rule) >= 2 and rule[:1] == b"(" and rule[-1:] == b")":
            selector = Selector()
            for part in rule[1:-1].split():
                selector.apply(part)
            self.selectors.append(selector)
        else:
            self.root.apply(rule)
        self._refresh()

    @staticmethod
    def _checked_hash(h: bytes) -> bytes:
        if not _valid_hash(h):
            raise RuleError(ACL_BAD_HASH)
        return h

    def _add_hash(self, h: bytes) -> None:
        if h not in self.passwords:
            self.passwords.append(h)
        self.nopass = False

    def _remove_hash(self, h: bytes) -> None:
        if h not in self.passwords:
            raise RuleError(ACL_NO_SUCH_PASSWORD)
        self.passwords.remove(h)

    def _nopass(self) -> None:
        self.nopass = True
        self.passwords.clear()

    def _resetpass(self) -> None:
        self.nopass = False
        self.passwords.clear()

    def _reset(self) -> None:
        self._resetpass()
        self.root = Selector()
        self.selectors.clear()
        self.enabled = False
        self.sanitize = b"sanitize-payload"

    # -- use ---------------------------------------------------------------------------------
    def password_ok(self, password: bytes) -> bool:
        if self.nopass:
            return True
        given = password_hash(password)
        ok = False
        for h in self.passwords:  # compare with every hash: the time says nothing
            ok |= hmac.compare_digest(h, given)
        return ok

    def check(self, cmd: "Command", argv: list[bytes]) -> tuple[int, int] | None:
        """None if the user may run this call, else the most relevant denial: the
        furthest a selector got (a key denial over a command denial, the later
        argument over the earlier)."""
        worst = self.root.check(cmd, argv)
        if worst is None:
            return None
        for selector in self.selectors:
            denied = selector.check(cmd, argv)
            if denied is None:
                return None
            if denied > worst:
                worst = denied
        return worst

    def full_read_access(self, name: str) -> bool:
        return self.unrestricted or any(s.full_read_access(name) for s in (self.root, *self.selectors))

    def channel_patterns(self) -> list[bytes] | None:
        """Every channel pattern of every selector; None if one of them allows all."""
        out: list[bytes] = []
        for selector in (self.root, *self.selectors):
            if selector.allchannels:
                return None
            out += selector.channels
        return out

    # -- descriptions ------------------------------------------------------------------------
    def flags(self) -> list[bytes]:
        out = [b"on" if self.enabled else b"off"]
        if self.nopass:
            out.append(b"nopass")
        if self.sanitize:
            out.append(self.sanitize)
        return out

    def describe(self) -> bytes:
        """The user as one ACL LIST / ACL file line, after ``user <name> ``."""
        parts = self.flags() + [b"#" + h for h in self.passwords] + [self.root.describe()]
        parts += [b"(" + s.describe() + b")" for s in self.selectors]
        return b" ".join(parts)


_USER_WORDS = {
    b"on": lambda u: setattr(u, "enabled", True),
    b"off": lambda u: setattr(u, "enabled", False),
    b"nopass": User._nopass,
    b"resetpass": User._resetpass,
    b"reset": User._reset,
    b"clearselectors": lambda u: u.selectors.clear(),
}


def merge_selectors(args: list[bytes]) -> list[bytes]:
    """Join the arguments of a selector split over several (``"(~a" "+get)"``)."""
    out: list[bytes] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg[:1] != b"(" or (len(arg) >= 2 and arg[-1:] == b")"):
            out.append(arg)
            i += 1
            continue
        parts = [arg]
        i += 1
        while True:
            if i >= len(args):
                raise UnmatchedParenthesis(arg)
            parts.append(args[i])
            i += 1
            if parts[-1][-1:] == b")":
                break
        out.append(b" ".join(parts))
    return out


def new_user(name: bytes, rules: Iterable[bytes] = ()) -> User:
    user = User(name)
    user.set(list(rules))
    return user


def default_user() -> User:
    """Redis's default user: on, no password, every command, key and channel."""
    return new_user(b"default", [b"on", b"nopass", b"~*", b"&*", b"+@all"])
