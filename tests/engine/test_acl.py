"""ACL users against a real redis-server 7.0: rules and their descriptions, every
error text, logging in (AUTH, HELLO), NOPERM for commands, keys and channels, the
ACL log, disconnections, requirepass as the default user's password, and the ACL
file (--aclfile, ACL LOAD, ACL SAVE).

Both servers are shared by the session: every test leaves the default user as it
found it (on, nopass, everything) and deletes the users it made; ``acl-admin`` (made
here, on both) lets the cleanup log in whatever a test did to the default user.

Where Redis's reply can't be compared byte for byte, the test says why: single
commands in a user's description come in Redis's hash table order (random per
process), ACL CAT lists a category in that order too, and HELLO, ACL GENPASS and
ACL LOG carry ids, random bytes and times.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import hiredis
import pytest

from sandbox.engine.acl_catalog import REDIS_ONLY, catalog
from sandbox.engine.commands import load_all

from .conftest import Differ
from .rawclient import RawClient
from .servers import ROOT, Proc, engine_process, read_ready_line, redis_process, stop

load_all()
ADMIN = ("acl-admin", "admin-secret")


def parse(frame: bytes) -> Any:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


@pytest.fixture(autouse=True)
def clean_acl(redis_proc: Proc, engine_proc: Proc) -> Iterator[None]:
    ports = (redis_proc.port, engine_proc.port)
    for port in ports:
        with RawClient(port) as c:
            assert c.call("ACL", "SETUSER", ADMIN[0], "on", ">" + ADMIN[1], "~*", "&*", "+@all") == b"+OK\r\n"
            assert c.call("ACL", "LOG", "RESET") == b"+OK\r\n"
    yield
    for port in ports:
        with RawClient(port) as c:
            assert c.call("AUTH", *ADMIN) == b"+OK\r\n"
            assert c.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
            assert c.call("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all") == b"+OK\r\n"
            users = [u for u in parse(c.call("ACL", "USERS")) if u not in (b"default", ADMIN[0].encode())]
            if users:
                c.call("ACL", "DELUSER", *users)
            c.call("ACL", "LOG", "RESET")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def pair(redis_proc: Proc, engine_proc: Proc, proto: int = 2) -> Differ:
    """Another connection to each server (another client of the same users)."""
    p = Differ(redis_proc.port, engine_proc.port)
    if proto == 3:
        p.resp3()
    return p


def single_commands_sorted(text: bytes) -> bytes:
    """A command description with its single commands sorted (Redis lists them in
    its hash table's order, which changes with every process)."""
    words = text.split(b" ")
    head = [w for w in words if w[:2] in (b"+@", b"-@")]
    return b" ".join(head + sorted(w for w in words if w[:2] not in (b"+@", b"-@")))


def getuser_normalized(reply: Any) -> Any:
    fields = dict(zip(reply[::2], reply[1::2])) if isinstance(reply, list) else dict(reply)
    fields[b"commands"] = single_commands_sorted(fields[b"commands"])
    selectors = []
    for s in fields[b"selectors"]:
        s = dict(zip(s[::2], s[1::2])) if isinstance(s, list) else dict(s)
        s[b"commands"] = single_commands_sorted(s[b"commands"])
        selectors.append(s)
    fields[b"selectors"] = selectors
    return fields


# ---------------------------------------------------------------------------
# Rules and descriptions

USERS = {
    "fresh": [],
    "mixed": ["on", ">p1", ">p2", "~foo*", "%R~bar", "%W~baz", "%RW~qux", "&ch*", "+get", "+set", "-@all",
              "+@string", "-get"],
    "all-but-dangerous": ["+@all", "-@dangerous", "+debug"],
    "read-write": ["+@read", "+@write"],
    "collections": ["+@hash", "+@set", "+@list"],
    "neither-fast-nor-slow": ["+@all", "-@fast", "-@slow"],
    "keyspace-no-del": ["+@keyspace", "-del"],
    "no-client-but-list": ["+@all", "-client", "+client|list"],
    "sub-then-container": ["+client|list", "+client"],
    "first-args": ["+select|0", "+select|1", "+select|0", "+SELECT|Ab"],
    "first-arg-then-command": ["+select|0", "+select"],
    "first-arg-reset-by-category": ["+select|0", "+@connection", "-@connection"],
    "first-arg-survives": ["+select|0", "-@dangerous"],
    "categories-cancel": ["+@read", "-get", "+@read", "+@write", "-@write"],
    "future": ["+@all", "-get", "+get"],
    "scripting-and-geo": ["+@scripting", "+@geo", "+@stream", "+@hyperloglog", "+@blocking"],
    "redis-only-commands": ["+eval", "+function|load", "+cluster|addslots"],
    "words": ["ALLKEYS", "ON", "NOPASS", "ALLCHANNELS", "ALLCOMMANDS", "RESETPASS", "RESETKEYS",
              "RESETCHANNELS", "NOCOMMANDS", "SANITIZE-PAYLOAD", "OFF"],
    "reset": ["on", "~*", "&*", "+@all", ">x", "reset"],
    "nopass-then-password": ["on", "nopass", ">x"],
    "password-then-nopass": ["on", ">x", "nopass"],
    "passwords": ["on", ">x", ">x", ">y", "<x", "#" + "ab" * 32, ">", "!" + "ab" * 32],
    "key-merge": ["~a", "%R~a", "%R~b", "%W~b", "~c", "%R~c", "%W~d"],
    "read-star-then-write-star": ["%R~*", "%W~*", "~x"],
    "star-clears-patterns": ["~a*", "~*"],
    "allkeys-then-reset": ["allkeys", "resetkeys", "~a"],
    "empty-patterns": ["%R", "~", "&"],
    "channels": ["resetchannels", "&a", "&a", "&b*"],
    "all-channels": ["&a*", "&*"],
    "sanitize": ["sanitize-payload", "skip-sanitize-payload"],
    "selectors": ["on", "(~foo +get)", "(%R~bar +@read -@write)", "(  ~x  &c )", "()"],
    "split-selector": ["(~a", "+get)", "~b)"],
    "cleared-selectors": ["(~foo +get)", "clearselectors", "(+set)"],
    "empty-rule": [""],
}


@pytest.mark.parametrize("name", list(USERS))
def test_setuser_and_getuser_describe_a_user_like_redis(d: Differ, name: str) -> None:
    d("ACL", "SETUSER", name, *USERS[name])
    ref, eng = d.ref.call("ACL", "GETUSER", name), d.eng.call("ACL", "GETUSER", name)
    if ref != eng:  # allowed only for the order of single commands
        assert getuser_normalized(parse(eng)) == getuser_normalized(parse(ref))
        assert len(ref) == len(eng)


def test_acl_list_shows_users_like_redis_in_name_order(d: Differ) -> None:
    for name in ("zed", "mixed", "selectors", "", "all-but-dangerous", "first-args"):
        d("ACL", "SETUSER", name, *USERS.get(name, ["on", "nopass", "+get", "~k"]))
    d("ACL", "LIST")
    d("ACL", "USERS")


def test_a_rule_set_is_all_or_nothing(d: Differ) -> None:
    d("ACL", "SETUSER", "atomic", "on", "~a", "+get")
    d("ACL", "SETUSER", "atomic", "off", "~b", "+set", "bogus")
    d("ACL", "GETUSER", "atomic")
    d("ACL", "SETUSER", "never", "on", "~a", "+nosuch")
    d("ACL", "GETUSER", "never")


SETUSER_ERRORS = [
    ["+client|nosuch"], ["-client|nosuch"], ["+client|list|x"], ["+config|get|x"], ["+nosuch"],
    ["+@nosuch"], ["-@nosuch"], ["#abc"], ["#" + "AB" * 32], ["!" + "ab" * 32], ["!abc"], ["<nope"],
    ["bogus"], ["%X~foo"], ["%~foo"], ["%RR~x"], ["%R ~x"], ["allchannels", "&foo"], ["&*", "&foo"],
    ["~*", "~x"], ["allkeys", "%R~x"], ["~a b"], ["+get|x|y"], ["+nosuch|x"], ["-get|x"], ["-select|0"],
    ["+select|"], ["+client|"], ["+|"], ["+"], ["-"], ["+@"], ["@all"], ["+@all|x"], ["+@read|x"], ["#"], ["!"],
    ["("], ["(~foo"], ["(~a)b"], ["(~a) "], [" (~a)"], ["(on)"], ["(>pw)"], ["(reset)"], ["(nopass)"],
    ["(clearselectors)"], ["(%R~a (~b)"], ["(bogus)"], ["(~a", "+get"],
]


@pytest.mark.parametrize("rules", SETUSER_ERRORS, ids=" ".join)
def test_setuser_refuses_bad_rules_with_redis_texts(d: Differ, rules: list[str]) -> None:
    reply = d("ACL", "SETUSER", "bad", *rules)
    assert reply.startswith(b"-ERR")
    d("ACL", "GETUSER", "bad")


def test_acl_command_errors_and_help_like_redis(d: Differ) -> None:
    d.many("""
        ACL SETUSER "a b" on
        ACL SETUSER
        ACL
        ACL NOSUCH
        ACL HELP
        ACL HELP extra
        ACL GETUSER nosuch
        ACL GETUSER
        ACL GETUSER a b
        ACL DELUSER
        ACL DELUSER default
        ACL DELUSER nosuch other
        ACL USERS extra
        ACL LIST extra
        ACL WHOAMI extra
        ACL CAT nosuch
        ACL CAT NOSUCH
        ACL CAT a b
        ACL GENPASS 0
        ACL GENPASS -1
        ACL GENPASS 4097
        ACL GENPASS x
        ACL GENPASS 1 2
        ACL LOG x
        ACL LOG 1 2
        ACL LOG reset extra
        ACL LOG -1
        ACL LOG 0
        ACL DRYRUN
        ACL DRYRUN default
        ACL DRYRUN nosuch get a
        ACL DRYRUN default get
        ACL DRYRUN default get a b
        ACL DRYRUN default nosuchcmd
        ACL DRYRUN default CLIENT nosuch
        ACL DRYRUN default client
        ACL DRYRUN default config get
        ACL DRYRUN default client list
        ACL DRYRUN default GET a
        ACL LOAD
        ACL SAVE
    """)


def test_deluser_refuses_default_before_deleting_anyone(d: Differ) -> None:
    d("ACL", "SETUSER", "dx")
    d("ACL", "DELUSER", "dx", "default")
    d("ACL", "GETUSER", "dx")
    d("ACL", "DELUSER", "dx", "dx", "nosuch")


def test_whoami_cat_and_genpass(d: Differ) -> None:
    d("ACL", "WHOAMI")
    d("ACL", "CAT")
    for category in parse(d.ref.call("ACL", "CAT")):
        ref, eng = parse(d.ref.call("ACL", "CAT", category)), parse(d.eng.call("ACL", "CAT", category.upper()))
        # Redis lists a category in its hash table's order; CLUSTER SETTOPOLOGY is the engine's own.
        assert sorted(set(eng) - {b"cluster|settopology"}) == sorted(ref) and len(set(eng)) == len(eng), category
    for bits, chars in ((None, 64), ("1", 1), ("4", 1), ("5", 2), ("9", 3), ("4096", 1024)):
        args = ("ACL", "GENPASS") if bits is None else ("ACL", "GENPASS", bits)
        ref, eng = parse(d.ref.call(*args)), parse(d.eng.call(*args))
        assert len(ref) == len(eng) == chars
        assert all(c in b"0123456789abcdef" for c in eng)
    assert parse(d.eng.call("ACL", "GENPASS")) != parse(d.eng.call("ACL", "GENPASS"))


DRYRUN_USER = ["on", "nopass", "~a", "%R~r*", "resetchannels", "&ch", "+get", "+set", "+publish",
               "+subscribe", "+psubscribe", "+client|list", "+select|1"]


def test_dryrun_says_what_a_user_may_run_like_redis(d: Differ) -> None:
    d("ACL", "SETUSER", "dry", *DRYRUN_USER)
    d("ACL", "SETUSER", "off-user", "off", "+@all", "~*")
    d.many("""
        ACL DRYRUN dry get a
        ACL DRYRUN dry get b
        ACL DRYRUN dry get r1
        ACL DRYRUN dry set r1 x
        ACL DRYRUN dry set a b
        ACL DRYRUN dry del a
        ACL DRYRUN dry publish ch m
        ACL DRYRUN dry publish other m
        ACL DRYRUN dry subscribe ch other
        ACL DRYRUN dry psubscribe ch*
        ACL DRYRUN dry psubscribe ch
        ACL DRYRUN dry client list
        ACL DRYRUN dry client info
        ACL DRYRUN dry select 1
        ACL DRYRUN dry select 2
        ACL DRYRUN dry auth a b
        ACL DRYRUN dry hello
        ACL DRYRUN dry quit
        ACL DRYRUN off-user get a
        ACL DRYRUN dry set a
    """)


def test_key_patterns_match_like_redis(d: Differ) -> None:
    d("ACL", "SETUSER", "pat", "on", "nopass", "+@all", "~lit", "~pre*", "~k[ab]?", "~a\\*b", "%R~*x", "~",
      "resetchannels", "&news.*", "&exact")
    for key in ("lit", "litx", "li", "pre", "prefix", "pr", "ka1", "kc1", "kab1", "a*b", "aXb", "zzx", "", "x"):
        d("ACL", "DRYRUN", "pat", "get", key)
        d("ACL", "DRYRUN", "pat", "set", key, "v")
    for channel in ("news.1", "news", "exact", "exactly", "news.*"):
        d("ACL", "DRYRUN", "pat", "publish", channel, "m")
        d("ACL", "DRYRUN", "pat", "psubscribe", channel)


def test_selectors_allow_what_any_one_of_them_allows(d: Differ) -> None:
    d("ACL", "SETUSER", "sel", "on", "nopass", "~a", "+get", "(~b +set)", "(%R~c +@read)")
    d.many("""
        ACL DRYRUN sel get a
        ACL DRYRUN sel get b
        ACL DRYRUN sel set b x
        ACL DRYRUN sel set a x
        ACL DRYRUN sel get c
        ACL DRYRUN sel set c x
        ACL DRYRUN sel mget a c
        ACL DRYRUN sel del a
    """)


# ---------------------------------------------------------------------------
# Logging in


def test_auth_and_hello_log_in_as_users(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    d("ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all")
    d("ACL", "SETUSER", "nopw", "on", "nopass", "+@all")
    d("ACL", "SETUSER", "disabled", "off", ">pw", "+@all")
    d("ACL", "SETUSER", "nothing", "on")
    c = pair(redis_proc, engine_proc)
    try:
        c.many("""
            AUTH alice wrong
            AUTH nosuch pw
            AUTH disabled pw
            AUTH nothing ""
            ACL WHOAMI
            AUTH onlypassword
            AUTH alice pw
            ACL WHOAMI
            AUTH nopw anything
            ACL WHOAMI
            AUTH a b c
        """)
        for args in (("HELLO", "3", "AUTH", "alice", "wrong"), ("HELLO", "2", "AUTH", "nosuch", "x"),
                     ("HELLO", "3", "AUTH", "disabled", "pw")):
            c(*args)
        ref, eng = parse(c.ref.call("HELLO", "3", "AUTH", "alice", "pw")), parse(c.eng.call("HELLO", "3", "AUTH", "alice", "pw"))
        assert ref.pop(b"id") and eng.pop(b"id")  # connection ids differ
        assert eng == ref
        c("ACL", "WHOAMI")
        line = parse(c.eng.call("CLIENT", "INFO"))
        assert b" user=alice " in line
        c("RESET")
        c("ACL", "WHOAMI")
    finally:
        c.close()


def test_requirepass_is_the_default_users_password(redis_proc: Proc, engine_proc: Proc) -> None:
    admin = pair(redis_proc, engine_proc)
    before = pair(redis_proc, engine_proc)
    try:
        admin("AUTH", *ADMIN)
        admin("CONFIG", "SET", "requirepass", "secret")
        before("PING")  # logged in before the password: still logged in, as in Redis
        admin("ACL", "GETUSER", "default")
        admin("ACL", "LIST")
        after = pair(redis_proc, engine_proc)
        after.many("""
            PING
            HELLO 3
            AUTH wrong
            AUTH secret
            AUTH default secret
        """)
        admin("ACL", "SETUSER", "default", ">other")
        admin("CONFIG", "GET", "requirepass")
        late = pair(redis_proc, engine_proc)
        late.many("""
            AUTH other
            AUTH secret
        """)
        admin("ACL", "SETUSER", "default", "resetpass")
        locked = pair(redis_proc, engine_proc)
        locked("PING")
        locked("AUTH", "x")
        admin("ACL", "SETUSER", "default", "nopass")
        locked("PING")  # the default user needs no password now: so doesn't anyone
        admin("ACL", "SETUSER", "default", "off")
        off = pair(redis_proc, engine_proc)
        off.many("""
            PING
            AUTH x
            HELLO 3
            RESET
        """)
        admin("ACL", "SETUSER", "default", "on")
        off("PING")
        admin("CONFIG", "SET", "requirepass", "")
        admin("ACL", "GETUSER", "default")
        for c in (after, late, locked, off):
            c.close()
    finally:
        admin.close()
        before.close()


# ---------------------------------------------------------------------------
# Enforcement


def enforcement_user(d: Differ) -> None:
    d("ACL", "SETUSER", "u1", "on", ">pw", "~r*", "%R~ro*", "%W~wo*", "resetchannels", "&ch*", "+@all",
      "-flushall", "-config|set")


@pytest.mark.parametrize("proto", [2, 3])
def test_noperm_for_commands_keys_and_channels(redis_proc: Proc, engine_proc: Proc, diff: Differ, proto: int) -> None:
    d = diff
    enforcement_user(d)
    c = pair(redis_proc, engine_proc, proto)
    try:
        c("AUTH", "u1", "pw")
        c.many("""
            GET foo
            GET r1
            SET r1 x
            GET ro1
            SET ro1 x
            GET wo1
            SET wo1 x
            SET wo1 x GET
            APPEND wo1 x
            EXISTS wo1
            EXISTS zzz
            TYPE zzz
            TTL wo1
            STRLEN wo1
            TOUCH wo1
            OBJECT ENCODING wo9
            COPY r1 wo2
            COPY wo1 r2
            MGET r1 ro1 wo1
            MGET r1 zz ro1
            RENAME wo1 wo2
            LMOVE r1 wo1 LEFT LEFT
            ZUNIONSTORE wo3 2 r1 ro2
            ZUNIONSTORE wo3 2 r1 wo2
            BITFIELD ro1 GET u8 0
            BITFIELD ro1 GET u8 0 SET u8 0 1
            BITFIELD wo1 SET u8 0 1
            SORT r1 STORE wo4
            SORT r1 STORE ro4
            SORT r1 BY nosort
            SORT r1 BY x*
            SORT r1 GET #
            SORT_RO r1 BY x*
            DEL r1 wo1
            FLUSHALL
            CONFIG SET hz 10
            CONFIG GET hz
            CLIENT NOSUCH
            NOSUCHCOMMAND
            PUBLISH ch1 m
            PUBLISH xx m
            SPUBLISH xx m
            PUBSUB NUMSUB xx
            UNSUBSCRIBE xx
            SUBSCRIBE xx
            PSUBSCRIBE ch1*
            PSUBSCRIBE c*
            SSUBSCRIBE xx
            SUBSCRIBE ch1
            PSUBSCRIBE ch*
        """)
    finally:
        c.close()


def test_a_denied_command_aborts_its_transaction(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    enforcement_user(d)
    c = pair(redis_proc, engine_proc)
    try:
        c.many("""
            AUTH u1 pw
            MULTI
            GET foo
            GET r1
            EXEC
            MULTI
            GET r1
            FLUSHALL
            EXEC
        """)
    finally:
        c.close()


def test_exec_checks_again_rules_changed_since_queueing(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    d("ACL", "SETUSER", "u3", "on", ">pw", "~*", "&*", "+@all")
    c = pair(redis_proc, engine_proc)
    try:
        c.many("""
            AUTH u3 pw
            MULTI
            GET a
            SET b 1
            PUBLISH c m
            PING
        """)
        d("ACL", "SETUSER", "u3", "-get", "resetkeys", "~a", "resetchannels")
        c("EXEC")
        # A rule change queued in the transaction applies to the commands after it.
        d("ACL", "SETUSER", "u3", "+get")
        c.many("""
            MULTI
            GET a
            ACL SETUSER u3 -get
            GET a
            EXEC
        """)
    finally:
        c.close()


def test_the_acl_log_records_denials_like_redis(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    enforcement_user(d)
    c = pair(redis_proc, engine_proc)
    try:
        c.many("""
            AUTH u1 wrong
            AUTH nosuch pw
            AUTH u1 pw
            GET foo
            GET foo
            MGET r1 wo1
            FLUSHALL
            PUBLISH xx m
            MULTI
            GET foo
            DISCARD
        """)
        for proto in (2, 3):
            d.ref.call("HELLO", str(proto))
            d.eng.call("HELLO", str(proto))
            ref, eng = parse(d.ref.call("ACL", "LOG")), parse(d.eng.call("ACL", "LOG"))
            assert [_log_fields(e) for e in eng] == [_log_fields(e) for e in ref]
            assert len(eng) == 7
            assert parse(d.eng.call("ACL", "LOG", "2")) and len(parse(d.eng.call("ACL", "LOG", "2"))) == 2
        d.ref.call("HELLO", "2")
        d.eng.call("HELLO", "2")
        d("ACL", "LOG", "RESET")
        d("ACL", "LOG")
    finally:
        c.close()


def _log_fields(entry: Any) -> dict[bytes, Any]:
    fields = dict(zip(entry[::2], entry[1::2])) if isinstance(entry, list) else dict(entry)
    age = float(fields.pop(b"age-seconds"))
    assert 0 <= age < 60
    info = fields.pop(b"client-info")
    assert b" user=" in info and b" cmd=" in info
    return fields


# ---------------------------------------------------------------------------
# Disconnections


def test_deluser_closes_its_connections_and_off_does_not(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    d("ACL", "SETUSER", "gone", "on", ">pw", "~*", "&*", "+@all")
    first, second, third = (pair(redis_proc, engine_proc) for _ in range(3))
    try:
        for c in (first, second, third):
            c("AUTH", "gone", "pw")
        d("ACL", "SETUSER", "gone", "off", "resetkeys")
        first("PING")  # a disabled user's connections stay, as in Redis 7.0
        first("GET", "k")
        d("ACL", "DELUSER", "gone")
        for c in (first, second, third):
            for client in (c.ref, c.eng):
                assert client.read_closed(), "deleting a user closes its connections"
    finally:
        for c in (first, second, third):
            c.close()


def test_deleting_your_own_user_answers_then_closes(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    d("ACL", "SETUSER", "self", "on", ">pw", "~*", "&*", "+@all")
    c = pair(redis_proc, engine_proc)
    try:
        c("AUTH", "self", "pw")
        c("ACL", "DELUSER", "self")
        assert c.ref.read_closed() and c.eng.read_closed()
    finally:
        c.close()


def test_narrowing_channels_closes_subscribers_that_lost_one(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    d = diff
    d("ACL", "SETUSER", "p1", "on", "nopass", "~*", "+@all", "&ch1", "&ch2", "&pat*")
    subs = {name: pair(redis_proc, engine_proc) for name in ("ch1", "pat", "ch2")}
    try:
        for c in subs.values():
            c("AUTH", "p1", "x")
        subs["ch1"]("SUBSCRIBE", "ch1")
        subs["pat"]("PSUBSCRIBE", "pat*")
        subs["ch2"]("SUBSCRIBE", "ch2")
        d("ACL", "SETUSER", "p1", "resetchannels", "&ch2", "&pat*")
        assert subs["ch1"].ref.read_closed() and subs["ch1"].eng.read_closed()
        subs["pat"]("PING")
        subs["ch2"]("PING")
        d("ACL", "SETUSER", "p1", "resetchannels", "&ch2")
        assert subs["pat"].ref.read_closed() and subs["pat"].eng.read_closed()
        subs["ch2"]("PING")
        d("ACL", "SETUSER", "p1", "allchannels")
        subs["ch2"]("PING")
    finally:
        for c in subs.values():
            c.close()


# ---------------------------------------------------------------------------
# The ACL file


def test_acl_save_and_load_like_redis(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.acl" for name in ("redis", "engine")}
    for path in files.values():
        path.write_text("user u1 on >pw ~* +@all\n")
    with redis_process("--aclfile", str(files["redis"])) as ref, engine_process("--aclfile", str(files["engine"])) as eng:
        d = Differ(ref.port, eng.port)
        try:
            d("ACL", "LIST")
            d("ACL", "SETUSER", "zed", "on", ">x", "~k*", "(+get ~a)", "&c", "+@read")
            d("ACL", "SAVE")
            assert files["engine"].read_text() == files["redis"].read_text()
            assert files["engine"].stat().st_mode & 0o777 == files["redis"].stat().st_mode & 0o777
            bad = ("user u1 on >pw ~* +@all\nuser u2 bogus\nuser u3 (+get\nuser  u4  on\nuser u5 \"on\"\n"
                   "# comment\nuser u1 on\n\nuser u6 on ~a\tb\n")
            for path in files.values():
                path.write_text(bad)
            ref_reply, eng_reply = d.ref.call("ACL", "LOAD"), d.eng.call("ACL", "LOAD")
            assert eng_reply.replace(str(files["engine"]).encode(), b"F") == \
                ref_reply.replace(str(files["redis"]).encode(), b"F")
            assert eng_reply.count(b"Syntax error") == 4
            d("ACL", "LIST")  # unchanged
            other = Differ(ref.port, eng.port)
            other("AUTH", "zed", "x")
            good = "user default on nopass ~* &* +@all\nuser u1 on nopass  +@all\nuser new on >n ~n* +get\n"
            for path in files.values():
                path.write_text(good)
            d("ACL", "LOAD")
            d("ACL", "LIST")
            for client in (other.ref, other.eng):
                assert client.read_closed(), "a replaced user's connections close"
            other.close()
            for path in files.values():
                path.write_text("user default off\n")
            d("ACL", "LOAD")  # the caller keeps its connection (it is the default user's)
            fresh = Differ(ref.port, eng.port)
            fresh("PING")
            fresh.close()
        finally:
            d.close()


def start_engine(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sandbox.engine", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("kind", ["server", "node"])
def test_aclfile_is_loaded_before_listening(tmp_path: Path, kind: str) -> None:
    acl = tmp_path / "users.acl"
    acl.write_text("user default off\nuser app on >s3cret ~app:* +@all -flushall\n")
    args = ["server", "--port", "0"] if kind == "server" else [
        "node", "--mode", "cache", "--shard", "0", "--zone", "az-a", "--port", "0", "--dir", str(tmp_path / "n")]
    proc = start_engine(*args, "--aclfile", str(acl))
    try:
        port = read_ready_line(proc)["port"]
        with RawClient(port) as c:
            assert c.call("PING") == b"-NOAUTH Authentication required.\r\n"
            assert c.call("AUTH", "app", "s3cret") == b"+OK\r\n"
            assert c.call("SET", "app:1", "x") == b"+OK\r\n"
            assert c.call("GET", "other") == b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
            assert c.call("FLUSHALL") == b"-NOPERM this user has no permissions to run the 'flushall' command\r\n"
    finally:
        stop(proc)


@pytest.mark.parametrize("content, message", [
    ("user u1 on\nuser u2 bogus\n", "users.acl:2: Syntax error."),
    ("user u1 on\nuser u1 off\n", "Duplicate user 'u1' found on line 2."),
    ("nobody here\n", "users.acl:1 should start with user keyword followed by the username."),
    (None, "Error loading ACLs, opening file"),
])
def test_a_bad_aclfile_stops_the_start_with_a_clear_message(tmp_path: Path, content: str | None, message: str) -> None:
    acl = tmp_path / "users.acl"
    if content is not None:
        acl.write_text(content)
    for args in (["server", "--port", "0"],
                 ["node", "--mode", "cache", "--shard", "0", "--zone", "az-a", "--port", "0", "--dir", str(tmp_path)]):
        proc = start_engine(*args, "--aclfile", str(acl))
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 1 and out == b""
        assert message in err.decode() and "Aborting startup because of ACL errors" in err.decode()


def test_requirepass_and_aclfile_together_are_refused(tmp_path: Path) -> None:
    acl = tmp_path / "users.acl"
    acl.write_text("user default on nopass +@all ~*\n")
    proc = start_engine("server", "--port", "0", "--requirepass", "x", "--aclfile", str(acl))
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1 and b"can't be used together" in err


# ---------------------------------------------------------------------------
# The command table rules are written against


def test_the_redis_only_command_table_matches_redis(redis_proc: Proc) -> None:
    names = sorted(REDIS_ONLY)
    with RawClient(redis_proc.port) as ref:
        infos = parse(ref.call("COMMAND", "INFO", *names))
        everything = {n.decode() for n in parse(ref.call("COMMAND", "LIST"))}
    for name, info in zip(names, infos):
        assert info is not None, f"{name} is not a Redis 7.0 command"
        assert {c.decode().lstrip("@") for c in info[6]} == set(REDIS_ONLY[name].split()), name
    # Together with the registry, the table is Redis's whole command set (plus our own).
    ours = set(catalog().categories)
    assert everything - ours == set()
    assert ours - everything == {"cluster|settopology"}


def test_only_an_everything_user_skips_the_checks() -> None:
    from sandbox.engine.acl import default_user, new_user

    assert default_user().unrestricted
    assert new_user(b"a", [b"+@all", b"~*", b"&*"]).unrestricted
    assert new_user(b"a", [b"allcommands", b"allkeys", b"allchannels"]).unrestricted
    for rules in ([b"+@all", b"~*"], [b"+@all", b"&*", b"%R~*"], [b"+@all", b"~*", b"&*", b"-get"],
                  [b"+@all", b"~*", b"&*", b"-get", b"+get"], [b"~*", b"&*", b"+@read"]):
        assert not new_user(b"a", rules).unrestricted, rules
    user = new_user(b"a", [b"+@all", b"~*", b"&*"])
    user.set([b"-flushall"])
    assert not user.unrestricted
    user.set([b"+@all"])
    assert user.unrestricted


# ---------------------------------------------------------------------------
# Random rule lists

VOCABULARY = [
    "+@all", "-@all", "+@read", "-@read", "+@write", "-@write", "+@string", "-@string", "+@hash", "-@hash",
    "+@dangerous", "-@dangerous", "+@admin", "-@admin", "+@fast", "-@fast", "+@slow", "-@slow", "+@keyspace",
    "-@keyspace", "+@connection", "-@connection", "+@pubsub", "-@pubsub", "+get", "-get", "+set", "-set",
    "+client", "-client", "+client|list", "-client|list", "+config|get", "-config|get", "+select|0", "+select|1",
    "+del", "-del", "+flushall", "-flushall", "allcommands", "nocommands", "+@sortedset", "-@list", "+@scripting",
    "-@geo", "+@blocking", "-@blocking", "+@transaction", "-@transaction", "+acl", "-acl|setuser",
    "~a*", "%R~b*", "%W~c*", "~*", "resetkeys", "&x", "&*", "resetchannels", "on", "off", ">p", "nopass", "reset",
    "(+get ~a)", "(%R~z* +@read)", "clearselectors", "sanitize-payload", "skip-sanitize-payload",
]  # fmt: skip
PROBES = [["get", "a1"], ["set", "b1", "x"], ["set", "c1", "x"], ["client", "list"], ["select", "0"], ["flushall"],
          ["publish", "x", "m"], ["config", "get", "x"], ["del", "a1"], ["get", "z1"]]


def without_own_commands(fields: dict[bytes, Any]) -> dict[bytes, Any]:
    """CLUSTER SETTOPOLOGY is the engine's own: Redis has nothing to say about it."""
    def strip(text: bytes) -> bytes:
        return b" ".join(w for w in text.split(b" ") if w[1:] != b"cluster|settopology")

    fields[b"commands"] = strip(fields[b"commands"])
    for s in fields[b"selectors"]:
        s[b"commands"] = strip(s[b"commands"])
    return fields


def test_random_rule_lists_describe_and_check_like_redis(diff: Differ) -> None:
    import random

    rng = random.Random(20261126)
    for i in range(150):
        rules = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 8))]
        name = f"random-{i}"
        if diff("ACL", "SETUSER", name, *rules).startswith(b"-"):
            continue
        ref = getuser_normalized(parse(diff.ref.call("ACL", "GETUSER", name)))
        eng = getuser_normalized(parse(diff.eng.call("ACL", "GETUSER", name)))
        assert without_own_commands(eng) == without_own_commands(ref), rules
        for probe in PROBES:
            diff("ACL", "DRYRUN", name, *probe)
        diff("ACL", "DELUSER", name)
