"""Lab step checks: a lesson's ``labs`` declare what the learner's sandbox should
hold, and each check reads the real cluster to say pass or fail.

A check is ``{"type": ..., "key": ..., ...}`` from the lesson's front matter, run
against the durable cluster unless it says ``"cluster": "cache"``:

================  ===========================================  =========================
type              passes when                                  fields
================  ===========================================  =========================
exists            the key exists                               key
string_equals     GET key == value                             key, value
hash_field        HEXISTS key field                            key, field
zset              a sorted set with enough members             key, min_members
counter_at_least  GET key is an integer >= value               key, value
stream_group      the stream has the consumer group            key, group
text_prefix       GET key starts with prefix (a recorded       key, prefix
                  error or reply; case-insensitive)
set_members       the set holds these members (lower-cased);   key, members, exact?
                  with ``exact`` nothing else
ttl_between       the key expires in low..high seconds         key, low, high
same_slot         every key exists, all in one hash slot       keys, values?
replica_count     GET key (a WAIT answer) compared with the    key, compare (equal|less)
                  replicas the key's primary really has
shard_count       GET key == the cluster's number of shards    key
acl_whoami        GET key == the ACL user the cluster's        key
                  clients log in as (ACL WHOAMI)
info_field        GET key == the field of INFO section that    key, section, field
                  the key's primary reports
experiment        the owner ran a crash (with a prediction,    fault?, target?,
                  under load) that hit this cluster            prediction?, load?
survived_crash    GET key == value, and the owner crashed      key, value
                  this cluster (the key outlived a failover)
cluster_client_   redis-py's RedisCluster connects as the      user, command,
as_user           learner's user (``sandbox.service.users``),  forbidden, read?
                  runs ``command`` (and ``read`` from a
                  replica, so with READONLY), and ``forbidden``
                  gets NOPERM
stale_replica_    GET key (the learner's prediction, old or    key, probe
read              new) == what a replica answered, after
                  READONLY, to a GET of ``probe`` at once
                  after the primary acknowledged a new value
                  (the check performs it; old is a real
                  stale read)
================  ===========================================  =========================

``experiment`` and ``survived_crash`` read the owner's saved crash experiments
(``sandbox.models.Experiment``), so ``run_check`` takes the owner. Every result,
pass or fail, says what the check found ("the key holds a list", "2 members",
"WAIT's answer 0 against 1 replica") so the learner knows what to fix; the lesson's
own hint goes beside it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import LoadBalancingStrategy, RedisCluster
from redis.exceptions import RedisClusterException
from redis.crc import key_slot
from redis.retry import Retry

from sandbox import store
from sandbox.cluster_client import ClusterClient
from sandbox.owners import Owner
from sandbox.resp import ErrorReply, Reply
from sandbox.service.users import learner_password

# The real client's own timeouts, well inside the check's (CHECK_TIMEOUT_S): the
# thread it runs in ends soon after a check that gave up on it.
CLIENT_TIMEOUT_S = 1.5


class CheckResult(dict):
    """{"passed": bool, "detail": str}."""


def _text(reply: Reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


async def run_check(client: ClusterClient, check: dict[str, Any], owner: Owner | None = None) -> CheckResult:
    """Run one check against ``client``'s cluster; ``owner`` is whose experiments
    count (a check of the crash experiment without an owner fails, saying so)."""
    kind = str(check.get("type"))
    if kind in _UNKEYED:
        return await _UNKEYED[kind](client, check, owner)
    key = str(check.get("key", ""))
    if not key:
        return CheckResult(passed=False, detail="This check names no key (a content error).")
    handler = _CHECKS.get(kind)
    if handler is None:
        return CheckResult(passed=False, detail=f"Unknown check type {kind!r} (a content error).")
    key_type = await client.route(key, "TYPE", key)
    if isinstance(key_type, ErrorReply):
        return CheckResult(passed=False, detail=f"The sandbox answered: {key_type}")
    return await handler(client, key, _text(key_type), check)


async def _string_of(client: ClusterClient, key: str, key_type: str) -> tuple[str | None, CheckResult | None]:
    """The key's string value, or why there is none (a failed result)."""
    if key_type == "none":
        return None, CheckResult(passed=False, detail=f"There is no key {key}.")
    if key_type != "string":
        return None, CheckResult(passed=False, detail=f"{key} holds a {key_type}, not a string.")
    return _text(await client.route(key, "GET", key)), None


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


async def _text_prefix(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    prefix = str(check.get("prefix", ""))
    value, failed = await _string_of(client, key, key_type)
    if failed is not None:
        return failed
    if not value.lower().startswith(prefix.lower()):
        return CheckResult(passed=False, detail=f"{key} holds {value[:80]!r}, which does not start with {prefix!r}.")
    return CheckResult(passed=True, detail=f"{key} starts with {prefix!r}.")


async def _set_members(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    wanted = {str(m).lower() for m in check.get("members", [])}
    if key_type != "set":
        return CheckResult(passed=False, detail=f"There is no set {key}." if key_type == "none"
                           else f"{key} holds a {key_type}, not a set.")
    reply = await client.route(key, "SMEMBERS", key)
    held = {_text(m).lower() for m in reply} if isinstance(reply, list) else set()
    missing, extra = sorted(wanted - held), sorted(held - wanted)
    if missing:
        return CheckResult(passed=False, detail=f"The set {key} lacks {', '.join(missing)}.")
    if check.get("exact") and extra:
        return CheckResult(passed=False, detail=f"The set {key} also holds {', '.join(extra)}, which do not belong.")
    return CheckResult(passed=True, detail=f"The set {key} holds {', '.join(sorted(wanted))}.")


async def _ttl_between(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    low, high = int(check.get("low", 0)), int(check.get("high", 0))
    if key_type == "none":
        return CheckResult(passed=False, detail=f"There is no key {key} (or it has expired already).")
    ttl = await client.route(key, "TTL", key)
    if not isinstance(ttl, int) or ttl < 0:
        return CheckResult(passed=False, detail=f"{key} never expires; give it a time to live.")
    if not low <= ttl <= high:
        return CheckResult(passed=False, detail=f"{key} expires in {ttl} s, outside {low}..{high} s.")
    return CheckResult(passed=True, detail=f"{key} expires in {ttl} s.")


async def _info_number(client: ClusterClient, key: str, section: str, name: str) -> str | None:
    """One field of INFO ``section`` as the primary serving ``key`` reports it."""
    reply = await client.route(key, "INFO", section)
    for line in _text(reply).splitlines():
        field, _, value = line.partition(":")
        if field == name:
            return value.strip()
    return None


async def _replica_count(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    value, failed = await _string_of(client, key, key_type)
    if failed is not None:
        return failed
    if not value.strip().lstrip("-").isdigit():
        return CheckResult(passed=False, detail=f"{key} holds {value[:40]!r}, not the number WAIT answered.")
    answer, replicas = int(value), int(await _info_number(client, key, "replication", "connected_slaves") or 0)
    found = f"{key} holds {answer}; the primary has {replicas} replica(s)"
    if check.get("compare") == "less":
        if replicas == 0:
            return CheckResult(passed=False, detail=f"{found}: start the sandbox with at least 1 replica.")
        if answer >= replicas:
            return CheckResult(passed=False, detail=f"{found}: that is every replica, not a lagging answer.")
        return CheckResult(passed=True, detail=f"{found}: fewer replicas had the write than exist.")
    if answer != replicas:
        return CheckResult(passed=False, detail=f"{found}: they differ.")
    return CheckResult(passed=True, detail=f"{found}: every replica acknowledged.")


async def _shard_count(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    value, failed = await _string_of(client, key, key_type)
    if failed is not None:
        return failed
    shards = len(set(client.slot_shard))
    if value.strip() != str(shards):
        return CheckResult(passed=False, detail=f"{key} holds {value[:40]!r}; the cluster has {shards} shard(s).")
    return CheckResult(passed=True, detail=f"{key} holds {shards}: the cluster's shard count.")


async def _acl_whoami(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    value, failed = await _string_of(client, key, key_type)
    if failed is not None:
        return failed
    if value != client.user.username:
        return CheckResult(passed=False, detail=f"{key} holds {value[:60]!r}, not the name ACL WHOAMI answers.")
    return CheckResult(passed=True, detail=f"{key} names the cluster's ACL user.")


async def _info_field(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    section, name = str(check.get("section", "")), str(check.get("field", ""))
    value, failed = await _string_of(client, key, key_type)
    if failed is not None:
        return failed
    reported = await _info_number(client, key, section, name)
    if value.strip() != reported:
        return CheckResult(passed=False, detail=f"{key} holds {value[:40]!r}, not what INFO {section} says of {name}.")
    return CheckResult(passed=True, detail=f"{key} holds {name} as INFO {section} reports it ({reported}).")


CONVERGE_WAIT_S = 3.0  # how long the replica gets to catch up after the stale read


async def _stale_replica_read(client: ClusterClient, key: str, key_type: str, check: dict[str, Any]) -> CheckResult:
    """Write a new value to ``probe`` on its primary and, as soon as the write is
    acknowledged, read it from a replica of the same shard after READONLY; then wait
    for the replica to catch up. The learner predicted the read's answer."""
    prediction, failed = await _string_of(client, key, key_type)
    if failed is not None:
        return failed
    prediction = prediction.strip().lower()
    if prediction not in ("old", "new"):
        return CheckResult(passed=False, detail=f"{key} holds {prediction[:40]!r}: predict old or new.")
    probe = str(check.get("probe", ""))
    primary = client.primary_for(probe)
    replicas = [p for p in client.nodes.values()
                if p.shard == client.shard_of(probe) and p.role == "replica" and p.status == "running"]
    if primary is None or not replicas:
        return CheckResult(passed=False, detail="This needs a running replica: start the sandbox with 1 replica or more.")
    replica = replicas[0]
    # The replica's link says READONLY before the write, so the read is one round trip.
    if _text(await client.call(replica.address, "READONLY")) != "OK":
        return CheckResult(passed=False, detail="The replica refused READONLY.")
    old = await client.call(primary, "GET", probe)
    new = f"new-{secrets.token_hex(4)}"
    written = await client.call(primary, "SET", probe, new)
    acked = time.monotonic()
    seen = await client.call(replica.address, "GET", probe)
    read_ms = (time.monotonic() - acked) * 1000
    if _text(written) != "OK":
        return CheckResult(passed=False, detail=f"The primary refused the write: {_text(written)}")
    caught_up = None
    deadline = acked + CONVERGE_WAIT_S
    while time.monotonic() < deadline:
        if await client.call(replica.address, "GET", probe) == new.encode():
            caught_up = (time.monotonic() - acked) * 1000
            break
        await asyncio.sleep(0.005)
    stale = seen != new.encode()
    found = (f"The primary acknowledged SET {probe} {new}; {read_ms:.1f} ms later the replica in {replica.zone}, "
             f"after READONLY, answered {_text(seen)!r} ({'the old value' if stale else 'the new value'}, "
             f"the primary had {_text(old)!r} before)")
    found += f"; it had the new value {caught_up:.0f} ms after the write." if caught_up is not None else \
        f"; it still lacked the new value {CONVERGE_WAIT_S:.0f} s later."
    if not stale:
        return CheckResult(passed=False, detail=f"{found} No stale read this time: is the replication delay 0 ms?")
    if prediction != "old":
        return CheckResult(passed=False, detail=f"{found} You predicted the new value.")
    return CheckResult(passed=True, detail=f"{found} A stale read, as you predicted.")


async def _same_slot(client: ClusterClient, check: dict[str, Any], owner: Owner | None) -> CheckResult:
    keys = [str(k) for k in check.get("keys", [])]
    values = {str(k): str(v) for k, v in (check.get("values") or {}).items()}
    for key in keys:
        if await client.route(key, "EXISTS", key) != 1:
            return CheckResult(passed=False, detail=f"There is no key {key}.")
        if key in values and _text(await client.route(key, "GET", key)) != values[key]:
            return CheckResult(passed=False, detail=f"{key} does not hold {values[key]!r}.")
    slots = sorted({key_slot(k.encode()) for k in keys})
    if len(slots) != 1:
        return CheckResult(passed=False, detail=f"The keys fall in slots {slots}; a hash tag puts them in one.")
    return CheckResult(passed=True, detail=f"All {len(keys)} keys exist, in slot {slots[0]}.")


def _hits(run: dict[str, Any], cluster: str) -> bool:
    return run["target"] in (cluster, "both")


async def _experiment(client: ClusterClient, check: dict[str, Any], owner: Owner | None) -> CheckResult:
    cluster = str(check.get("cluster", "durable"))
    runs = [r for r in await _crashes(owner) if _hits(r, cluster)]
    if check.get("fault"):
        runs = [r for r in runs if r["fault"] == check["fault"]]
    if not runs:
        return CheckResult(passed=False, detail=f"No {check.get('fault') or 'crash'} of the {cluster} cluster has finished yet.")
    said_key = "prediction_async" if cluster == "async" else "prediction"  # each lane its own guess
    if check.get("prediction"):
        runs = [r for r in runs if r[said_key] is not None]
        if not runs:
            return CheckResult(passed=False, detail="Your crashes went without a prediction; predict before you crash.")
    if check.get("load"):
        runs = [r for r in runs if r["load_rate"] > 0]
        if not runs:
            return CheckResult(passed=False, detail="Your crashes ran without the write load; start it first.")
    run = runs[0]
    said = f"you predicted {run[said_key]}; " if run[said_key] is not None else ""
    return CheckResult(passed=True, detail=f"Your {run['fault']} of {run['target']}: {said}the {cluster} cluster lost {run['lost'].get(cluster)}.")


async def _survived_crash(client: ClusterClient, check: dict[str, Any], owner: Owner | None) -> CheckResult:
    value = await run_check(client, {**check, "type": "string_equals"})
    if not value["passed"]:
        return value
    cluster = str(check.get("cluster", "durable"))
    if not any(_hits(r, cluster) for r in await _crashes(owner)):
        return CheckResult(passed=False, detail=f"{value['detail']} But no crash of the {cluster} cluster has finished yet.")
    return CheckResult(passed=True, detail=f"{value['detail']} It outlived your crash of the {cluster} cluster.")


async def _cluster_client_as_user(client: ClusterClient, check: dict[str, Any], owner: Owner | None) -> CheckResult:
    """redis-py's RedisCluster, as the learner's user, from its start-up commands to
    the component's job: what a learner's application would do first."""
    seed = next((address for address in client.slot_primary if address is not None), None)
    if seed is None:
        return CheckResult(passed=False, detail="The cluster has no primary to connect to right now.")
    name = str(check.get("user", ""))
    result = await asyncio.to_thread(
        _connect_as, seed, name, learner_password(client.user, name), [str(a) for a in check.get("command", [])],
        [str(a) for a in check.get("read") or []], [str(a) for a in check.get("forbidden", [])],
    )
    if not result["passed"] and "could not connect" in result["detail"]:
        # redis-py words a refused CLUSTER SLOTS as "Cluster mode is not enabled":
        # ask the node what it refused this user, so the learner sees the NOPERM.
        for command in (("CLUSTER", "SLOTS"), ("COMMAND",)):
            verdict = _text(await client.call(seed, "ACL", "DRYRUN", name, *command))
            if verdict != "OK":
                result["detail"] += f" (The node says: {verdict[:200]}.)"
                break
    return result


def _connect_as(seed: tuple[str, int], name: str, password: str, command: list[str], read: list[str],
                forbidden: list[str]) -> CheckResult:
    said = "redis-py's RedisCluster"
    try:
        # Reads go to replicas, so redis-py sends READONLY on those connections.
        rc = RedisCluster(host=seed[0], port=seed[1], username=name, password=password,
                          socket_timeout=CLIENT_TIMEOUT_S, socket_connect_timeout=CLIENT_TIMEOUT_S,
                          retry=Retry(NoBackoff(), 0), load_balancing_strategy=LoadBalancingStrategy.RANDOM_REPLICA)
    except (redis.RedisError, RedisClusterException) as exc:
        return CheckResult(passed=False, detail=f"{said} could not connect as {name}: {_first_line(exc)}")
    try:
        for args in (command, read):
            if not args:
                continue
            try:
                rc.execute_command(*args)
            except (redis.RedisError, RedisClusterException) as exc:
                return CheckResult(passed=False, detail=f"{said} connected as {name}, but {' '.join(args)} "
                                   f"failed: {_first_line(exc)}")
        try:
            rc.execute_command(*forbidden)
        except redis.exceptions.NoPermissionError:
            pass
        except (redis.RedisError, RedisClusterException) as exc:
            return CheckResult(passed=False, detail=f"{' '.join(forbidden)} failed, but not with NOPERM: {_first_line(exc)}")
        else:
            return CheckResult(passed=False, detail=f"{' '.join(forbidden)} ran as {name}: the user may do more than "
                               "its component needs.")
        done = " and ".join(" ".join(args[:2]) for args in (command, read) if args)
        return CheckResult(passed=True, detail=f"{said} connected as {name}, ran {done}, and "
                           f"{forbidden[0]} got NOPERM.")
    finally:
        rc.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


async def _crashes(owner: Owner | None) -> list[dict[str, Any]]:
    return [] if owner is None else await store.crash_experiments(owner)


_CHECKS = {
    "exists": _exists,
    "string_equals": _string_equals,
    "hash_field": _hash_field,
    "zset": _zset,
    "counter_at_least": _counter_at_least,
    "stream_group": _stream_group,
    "text_prefix": _text_prefix,
    "set_members": _set_members,
    "ttl_between": _ttl_between,
    "replica_count": _replica_count,
    "shard_count": _shard_count,
    "acl_whoami": _acl_whoami,
    "info_field": _info_field,
    "stale_replica_read": _stale_replica_read,
}
# Checks that name no single key, or need the owner's experiments.
_UNKEYED = {
    "same_slot": _same_slot,
    "experiment": _experiment,
    "survived_crash": _survived_crash,
    "cluster_client_as_user": _cluster_client_as_user,
}
CHECK_TYPES = (*_CHECKS, *_UNKEYED)
