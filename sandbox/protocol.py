"""The websocket protocol between the sandbox page and the server: what a browser may
send, checked field by field before anything acts on it.

Every message is a JSON object with a ``type``; ``validate()`` returns its cleaned
fields or raises ``ClientError(code)``, which the consumer turns into
``{"type": "error", "code": ..., "message": ...}`` and nothing else happens. A
message with an unknown type, an unknown or missing field, a value of the wrong
type or out of range is refused whole: no field is silently dropped or clamped.

Nothing a browser sends names a sandbox: the consumer finds the sandbox from the
connection's owner (see ``sandbox.owners``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sandbox.conf import SandboxLimits

CLUSTERS = ("durable", "async", "cache")  # sandbox.models.CLUSTERS: every lane there can be
TARGETS = ("both", "durable", "async", "cache")  # "both": every lane that runs
ZONES = ("az-a", "az-b", "az-c")
FAULTS = ("kill_primary", "kill_replica", "kill_zone", "kill_journal", "pause", "restart", "slow_log")
LOAD_KINDS = ("set", "incr", "zadd", "xadd")

# Plain-language texts for each code; the browser shows them as they are.
MESSAGES = {
    "bad_json": "That message is not a JSON object.",
    "too_deep": "That message is nested too deeply.",
    "binary_not_supported": "Only text messages are accepted.",
    "too_large": "That message is too large.",
    "unknown_type": "Unknown message type.",
    "bad_field": "A field of that message is missing or wrong.",
    "rate_limited": "Too many messages: slow down a little.",
    "command_rate_limited": "Too many commands per second: wait a moment.",
    "no_identity": "Open the sandbox page once so that this browser gets a sandbox.",
    "no_sandbox": "You have no running sandbox: start one first.",
    "not_ready": "Your sandbox is not running yet.",
    "forbidden_command": "That command is not allowed in the sandbox.",
    "bad_command": "That command line could not be read.",
    "no_such_node": "There is no such process in your sandbox.",
    "fault_refused": "That fault cannot be injected now.",
    "load_running": "A write load is already running.",
    "no_load": "No write load is running.",
    "unknown_lesson": "No lesson has that name.",
    "queue_full": "The start queue is full; try again in a few minutes.",
    "busy": "Your sandbox is busy with another change; try again in a moment.",
    "bad_user_name": "That user name cannot be used.",
    "bad_access": "That access string could not be read.",
    "forbidden_access": "That access string holds a rule the sandbox does not allow.",
    "too_many_users": "Your sandbox already has as many users as it may: redefine one of them.",
}


class ClientError(Exception):
    """A refusal to send back to the browser; ``code`` is one of MESSAGES."""

    def __init__(self, code: str, message: str | None = None, **detail: Any) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        # The detail may echo what the sender sent; it never replaces these three.
        return {**self.detail, "type": "error", "code": self.code, "message": self.message}


# --------------------------------------------------------------------------------------
# Field checks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    required: bool = True

    def clean(self, name: str, value: Any) -> int:
        # bool is an int in Python; JSON true is not a number.
        if not isinstance(value, int) or isinstance(value, bool):
            raise ClientError("bad_field", f"{name} must be a whole number.", field=name)
        if not self.low <= value <= self.high:
            raise ClientError(
                "bad_field", f"{name} must be between {self.low} and {self.high}.", field=name
            )
        return value


@dataclass(frozen=True)
class Text:
    max_length: int
    required: bool = True
    pattern: re.Pattern[str] | None = None

    def clean(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ClientError("bad_field", f"{name} must be text.", field=name)
        if not _encodable(value):
            raise ClientError("bad_field", f"{name} is not valid text (a lone surrogate).", field=name)
        if len(value) > self.max_length:
            raise ClientError(
                "bad_field", f"{name} is longer than {self.max_length} characters.", field=name
            )
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise ClientError("bad_field", f"{name} is not well formed.", field=name)
        return value


@dataclass(frozen=True)
class Choice:
    choices: tuple[str, ...]
    required: bool = True

    def clean(self, name: str, value: Any) -> str:
        if value not in self.choices:
            raise ClientError(
                "bad_field", f"{name} must be one of {', '.join(self.choices)}.", field=name
            )
        return value


@dataclass(frozen=True)
class Bool:
    required: bool = True

    def clean(self, name: str, value: Any) -> bool:
        # Only JSON true/false: 1, "on" or "false" are not a switch's value.
        if not isinstance(value, bool):
            raise ClientError("bad_field", f"{name} must be true or false.", field=name)
        return value


@dataclass(frozen=True)
class Weights:
    """A write mix: {"set": 60, "incr": 20, "zadd": 20, "xadd": 10}, each 0..100, not all zero."""

    required: bool = True

    def clean(self, name: str, value: Any) -> dict[str, int]:
        if not isinstance(value, Mapping) or not value or set(value) - set(LOAD_KINDS):
            raise ClientError(
                "bad_field", f"{name} maps {', '.join(LOAD_KINDS)} to weights.", field=name
            )
        weights = {kind: Int(0, 100).clean(f"{name}.{kind}", value.get(kind, 0)) for kind in LOAD_KINDS}
        if not any(weights.values()):
            raise ClientError("bad_field", f"{name} needs one weight above 0.", field=name)
        return weights


def _encodable(text: str) -> bool:
    """Whether ``text`` is UTF-8 text: JSON's \\ud800 escapes decode to lone
    surrogates, which no later ``.encode()`` accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


Check = Int | Text | Choice | Bool | Weights
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
NODE_ID = re.compile(r"[a-z0-9-]{1,64}")
USER_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def schemas(limits: SandboxLimits) -> dict[str, dict[str, Check]]:
    """Each message type's fields; limits decide the ranges."""
    shape = {
        "shards": Int(1, limits.max_shards, required=False),
        "replicas": Int(0, limits.max_replicas, required=False),
        "delay_ms": Int(0, limits.max_replication_delay_ms, required=False),
        "async_lane": Bool(required=False),  # the third lane (sandbox.models.lanes)
    }
    return {
        "hello": {
            "last_seq": Int(0, 2**53, required=False),
            "log": Text(64, required=False, pattern=re.compile(r"[A-Za-z0-9_-]*")),
        },
        "ping": {},
        "start": dict(shape),
        "reconfigure": dict(shape),
        "stop": {},
        "command": {
            "cluster": Choice(CLUSTERS),
            "line": Text(4096),
            "id": Int(0, 2**31),
        },
        "docs": {},
        "load_start": {"rate": Int(1, limits.max_load_rate), "mix": Weights(required=False)},
        "load_stop": {},
        "fault": {
            "action": Choice(FAULTS),
            "target": Choice(TARGETS, required=False),
            "shard": Int(0, limits.max_shards - 1, required=False),
            "zone": Choice(ZONES, required=False),
            "node": Text(64, required=False, pattern=NODE_ID),
            "seconds": Int(1, 30, required=False),
            "prediction": Int(0, 10_000_000, required=False),
            "prediction_async": Int(0, 10_000_000, required=False),
        },
        "verdict": {},
        "check": {"lesson": Text(100, pattern=SLUG)},
        # A user with an access string on the durable cluster (sandbox.service.users).
        "create_user": {"name": Text(32, pattern=USER_NAME), "access": Text(512)},
    }


def validate(content: Any, table: Mapping[str, Mapping[str, Check]]) -> tuple[str, dict[str, Any]]:
    """(type, cleaned fields) of one decoded message, or ClientError."""
    if not isinstance(content, dict):
        raise ClientError("bad_json")
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in table:
        # Echoed for the page's log, under a name of its own: an error's type is "error".
        raise ClientError("unknown_type", sent_type=kind[:64] if isinstance(kind, str) else None)
    fields = table[kind]
    unknown = set(content) - set(fields) - {"type"}
    if unknown:
        name = sorted(unknown)[0]
        raise ClientError("bad_field", f"{kind} has no field {name!r}.", field=name)
    cleaned: dict[str, Any] = {}
    for name, check in fields.items():
        if name not in content or content[name] is None:
            if check.required:
                raise ClientError("bad_field", f"{kind} needs {name}.", field=name)
            continue
        cleaned[name] = check.clean(name, content[name])
    return kind, cleaned


# --------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; the clock is injected."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.updated = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
