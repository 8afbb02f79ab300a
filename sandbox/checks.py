"""Lab step checks: a lesson's ``labs`` declare what the learner's sandbox should
hold, and each check reads the real cluster to say pass or fail.

A check is ``{"type": ..., "key": ..., ...}`` from the lesson's front matter, run
against the durable cluster unless it says ``"cluster": "cache"``:

* exists           — the key exists
* string_equals    — GET key == value
* hash_field       — HEXISTS key field
* zset             — a sorted set with at least ``min_members`` members
* counter_at_least — GET key is an integer ≥ value
* stream_group     — the stream ``key`` has a consumer group ``group``

A failed check says what it found ("the key holds a list", "2 members") so the
learner knows what to fix; the lesson's own hint goes beside it.
"""

from __future__ import annotations

from typing import Any

from sandbox.cluster_client import ClusterClient
from sandbox.resp import ErrorReply, Reply


class CheckResult(dict):
    """{"passed": bool, "detail": str}."""


def _text(reply: Reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


async def run_check(client: ClusterClient, check: dict[str, Any]) -> CheckResult:
    kind = check.get("type")
    key = str(check.get("key", ""))
    if not key:
        return CheckResult(passed=False, detail="This check names no key (a content error).")
    handler = _CHECKS.get(str(kind))
    if handler is None:
        return CheckResult(passed=False, detail=f"Unknown check type {kind!r} (a content error).")
    key_type = await client.route(key, "TYPE", key)
    if isinstance(key_type, ErrorReply):
        return CheckResult(passed=False, detail=f"The sandbox answered: {key_type}")
    return await handler(client, key, _text(key_type), check)


async def _exists(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no key {key}.")
    return CheckResult(passed=True, detail=f"{key} exists ({key_type}).")


async def _string_equals(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    wanted = str(check.get("value", ""))
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no key {key}.")
    if key_type != "string":
        return CheckResult(passed=False, detail=f"{key} holds a {key_type}, not a string.")
    value = await client.route(key, "GET", key)
    if _text(value) != wanted:
        return CheckResult(passed=False, detail=f"{key} holds {_text(value)!r}, not {wanted!r}.")
    return CheckResult(passed=True, detail=f"{key} = {wanted!r}.")


async def _hash_field(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    name = str(check.get("field", ""))
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no key {key}.")
    if key_type != "hash":
        return CheckResult(passed=False, detail=f"{key} holds a {key_type}, not a hash.")
    present = await client.route(key, "HEXISTS", key, name)
    if present != 1:
        return CheckResult(passed=False, detail=f"The hash {key} has no field {name!r}.")
    return CheckResult(passed=True, detail=f"{key} has the field {name!r}.")


async def _zset(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    wanted = int(check.get("min_members", 1))
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no key {key}.")
    if key_type != "zset":
        return CheckResult(passed=False, detail=f"{key} holds a {key_type}, not a sorted set.")
    count = await client.route(key, "ZCARD", key)
    if not isinstance(count, int) or count < wanted:
        return CheckResult(passed=False, detail=f"{key} has {count} member(s); {wanted} are needed.")
    return CheckResult(passed=True, detail=f"{key} has {count} members.")


async def _counter_at_least(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    wanted = int(check.get("value", 1))
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no key {key}.")
    value = await client.route(key, "GET", key)
    try:
        number = int(_text(value))
    except ValueError:
        return CheckResult(passed=False, detail=f"{key} does not hold an integer.")
    if number < wanted:
        return CheckResult(passed=False, detail=f"{key} is {number}; at least {wanted} is needed.")
    return CheckResult(passed=True, detail=f"{key} is {number}.")


async def _stream_group(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    group = str(check.get("group", ""))
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no stream {key}.")
    if key_type != "stream":
        return CheckResult(passed=False, detail=f"{key} holds a {key_type}, not a stream.")
    groups = await client.route(key, "XINFO", "GROUPS", key)
    if isinstance(groups, ErrorReply):
        return CheckResult(passed=False, detail=f"The sandbox answered: {groups}")
    names = set()
    for entry in groups if isinstance(groups, list) else []:
        if isinstance(entry, list):
            fields = dict(zip(entry[::2], entry[1::2]))
            names.add(_text(fields.get(b"name", b"")))
    if group not in names:
        return CheckResult(passed=False, detail=f"The stream {key} has no group {group!r}.")
    return CheckResult(passed=True, detail=f"{key} has the group {group!r}.")


_CHECKS = {
    "exists": _exists,
    "string_equals": _string_equals,
    "hash_field": _hash_field,
    "zset": _zset,
    "counter_at_least": _counter_at_least,
    "stream_group": _stream_group,
}
CHECK_TYPES = tuple(_CHECKS)
