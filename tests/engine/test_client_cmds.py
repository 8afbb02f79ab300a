"""CLIENT against a real redis-server: argument checking and error texts byte for
byte, Redis 7.0.15's CLIENT LIST layout, and killing connections (the killed
connection really closes)."""

from __future__ import annotations

import time

import hiredis
import pytest
import redis

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc, engine_process


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def fields(line: bytes | str) -> dict[str, str]:
    text = line.decode() if isinstance(line, bytes) else line
    return dict(item.split("=", 1) for item in text.strip().split(" "))


def test_client_argument_errors_like_redis(d: Differ) -> None:
    d.many("""
        CLIENT
        CLIENT NOSUCH
        CLIENT HELP
        CLIENT HELP x
        CLIENT ID x
        CLIENT INFO x
        CLIENT SETINFO LIB-NAME redis-py
        CLIENT SETNAME
        CLIENT SETNAME "a b"
        CLIENT SETNAME "a\\nb"
        CLIENT SETNAME "caf\\xc3\\xa9"
        CLIENT SETNAME a b
        CLIENT GETNAME
        CLIENT SETNAME my-name_1
        CLIENT GETNAME
        CLIENT SETNAME ""
        CLIENT GETNAME
        CLIENT GETNAME x
    """)


def test_client_list_filters_like_redis(d: Differ) -> None:
    d.many("""
        CLIENT LIST TYPE nosuch
        CLIENT LIST TYPE
        CLIENT LIST ID
        CLIENT LIST ID abc
        CLIENT LIST ID 1 abc
        CLIENT LIST nosuch
        CLIENT LIST TYPE normal extra
        CLIENT LIST TYPE replica
        CLIENT LIST TYPE SLAVE
        CLIENT LIST TYPE master
        CLIENT LIST TYPE pubsub
        CLIENT LIST ID -1
        CLIENT LIST ID 0 99999999
    """)


def test_client_kill_arguments_like_redis(d: Differ) -> None:
    d.many("""
        CLIENT KILL
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL ID 0
        CLIENT KILL ID -1
        CLIENT KILL ID abc
        CLIENT KILL ID 1 TYPE
        CLIENT KILL TYPE nosuch
        CLIENT KILL USER nosuch
        CLIENT KILL SKIPME maybe
        CLIENT KILL MAXAGE 5
        CLIENT KILL NOSUCH x
        CLIENT KILL ID 99999999
        CLIENT KILL LADDR 1.2.3.4:5
        CLIENT KILL ADDR 1.2.3.4:5 SKIPME no
        CLIENT KILL TYPE master
    """)


def test_client_modes_like_redis(d: Differ) -> None:
    d.many("""
        CLIENT NO-EVICT on
        CLIENT NO-EVICT OFF
        CLIENT NO-EVICT maybe
        CLIENT NO-EVICT
        CLIENT REPLY ON
        CLIENT REPLY maybe
        CLIENT TRACKING OFF
        CLIENT TRACKING maybe
        CLIENT TRACKING
        CLIENT TRACKINGINFO
        CLIENT GETREDIR
        CLIENT CACHING yes
        CLIENT CACHING maybe
        CLIENT PAUSE
        CLIENT PAUSE abc
        CLIENT PAUSE -1
        CLIENT PAUSE 10 FOO
        CLIENT PAUSE 10 ALL x
        CLIENT PAUSE abc ALL x
        CLIENT UNPAUSE
        CLIENT UNPAUSE x
        CLIENT UNBLOCK
        CLIENT UNBLOCK abc
        CLIENT UNBLOCK -5
        CLIENT UNBLOCK 99999999
        CLIENT UNBLOCK 1 FOO
        CLIENT UNBLOCK 1 timeout
        CLIENT UNBLOCK 1 ERROR
        CLIENT UNBLOCK 1 TIMEOUT x
        CLIENT UNBLOCK abc TIMEOUT x
    """)


def test_unsupported_modes_answer_clearly(raw: RawClient) -> None:
    assert raw.call("CLIENT", "REPLY", "OFF") == b"-ERR CLIENT REPLY OFF and SKIP are not supported by this engine\r\n"
    assert raw.call("CLIENT", "REPLY", "SKIP").startswith(b"-ERR CLIENT REPLY OFF and SKIP")
    assert raw.call("CLIENT", "TRACKING", "ON", "BCAST").startswith(b"-ERR CLIENT TRACKING is not supported")
    assert raw.call("CLIENT", "PAUSE", "100", "WRITE") == b"-ERR CLIENT PAUSE is not supported by this engine\r\n"
    assert raw.call("PING") == b"+PONG\r\n"


def test_client_list_has_redis_7_layout(redis_proc: Proc, raw: RawClient) -> None:
    with RawClient(redis_proc.port) as ref:
        theirs = parse(ref.call("CLIENT", "LIST", "ID", parse(ref.call("CLIENT", "ID")))).decode()
    ours = parse(raw.call("CLIENT", "LIST", "ID", parse(raw.call("CLIENT", "ID")))).decode()
    assert ours.endswith("\n") and ours.count("\n") == 1
    assert list(fields(ours)) == list(fields(theirs))
    mine = fields(ours)
    assert mine["cmd"] == "client|list" and mine["flags"] == "N" and mine["multi"] == "-1"
    assert mine["user"] == "default" and mine["resp"] == "2" and mine["redir"] == "-1"
    assert int(mine["fd"]) > 0 and mine["laddr"].endswith(":" + raw.sock.getpeername()[1].__str__())


def test_client_info_follows_the_connection_state(raw: RawClient) -> None:
    cid = parse(raw.call("CLIENT", "ID"))
    raw.call("CLIENT", "SETNAME", "worker")
    raw.call("SELECT", "2")
    raw.call("HELLO", "3")
    info = fields(parse(raw.call("CLIENT", "INFO")))
    assert info["id"] == str(cid) and info["name"] == "worker" and info["db"] == "2"
    assert info["resp"] == "3" and info["cmd"] == "client|info"
    assert raw.call("CLIENT", "INFO").startswith(b"=")
    raw.call("MULTI")
    raw.call("SET", "a", "1")
    raw.call("GET", "a")
    with RawClient(raw.sock.getpeername()[1]) as other:
        line = fields(parse(other.call("CLIENT", "LIST", "ID", str(cid))))
        assert line["multi"] == "2" and line["flags"] == "x" and line["cmd"] == "get"  # as Redis
        assert int(line["multi-mem"]) > 0
    raw.call("DISCARD")


def test_client_list_shows_subscribers_by_type(raw: RawClient, engine_proc: Proc) -> None:
    sub = RawClient(engine_proc.port)
    try:
        sub.call("SUBSCRIBE", "a", "b")
        sub.read_frame()
        sub.call("PSUBSCRIBE", "p*")
        sub_id = fields(parse(raw.call("CLIENT", "LIST", "TYPE", "pubsub")))["id"]
        line = fields(parse(raw.call("CLIENT", "LIST", "ID", sub_id)))
        assert (line["sub"], line["psub"], line["ssub"], line["flags"]) == ("2", "1", "0", "P")
        normal = parse(raw.call("CLIENT", "LIST", "TYPE", "normal")).decode()
        assert f"id={sub_id} " not in normal
        both = parse(raw.call("CLIENT", "LIST", "ID", sub_id, "999999", sub_id)).decode()
        assert both.count("\n") == 2
    finally:
        sub.close()


def test_client_kill_closes_the_chosen_connections() -> None:
    with engine_process() as proc:
        admin = RawClient(proc.port)
        victims = [RawClient(proc.port) for _ in range(4)]
        ids = [parse(v.call("CLIENT", "ID")) for v in victims]
        addrs = [fields(parse(v.call("CLIENT", "INFO")))["addr"] for v in victims]
        victims[3].call("SUBSCRIBE", "x")
        try:
            assert admin.call("CLIENT", "KILL", addrs[0]) == b"+OK\r\n"
            assert victims[0].read_closed()
            assert admin.call("CLIENT", "KILL", "ID", str(ids[1])) == b":1\r\n"
            assert victims[1].read_closed()
            assert admin.call("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
            assert victims[3].read_closed()
            assert admin.call("CLIENT", "KILL", "ADDR", addrs[2], "ID", str(ids[1])) == b":0\r\n"
            assert admin.call("CLIENT", "KILL", "USER", "default") == b":1\r\n"  # SKIPME yes
            assert victims[2].read_closed()
            assert admin.call("CLIENT", "KILL", "ID", str(parse(admin.call("CLIENT", "ID")))) == b":0\r\n"
            my_id = str(parse(admin.call("CLIENT", "ID")))
            assert admin.call("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") == b":1\r\n"
            assert admin.read_closed()
        finally:
            admin.close()
            for v in victims:
                v.close()


def test_client_kill_of_itself_by_address_answers_then_closes(raw: RawClient, engine_proc: Proc) -> None:
    with RawClient(engine_proc.port) as me:
        addr = fields(parse(me.call("CLIENT", "INFO")))["addr"]
        assert me.call("CLIENT", "KILL", addr) == b"+OK\r\n"
        assert me.read_closed()


def test_no_evict_lets_a_client_write_past_maxmemory(raw: RawClient, engine_proc: Proc) -> None:
    try:
        raw.call("CONFIG", "SET", "maxmemory", "1mb")
        assert raw.call("SET", "k", "v").startswith(b"-OOM")
        assert raw.call("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
        assert raw.call("SET", "k", "v") == b"+OK\r\n"
        raw.call("CLIENT", "NO-EVICT", "off")
        assert raw.call("SET", "k", "v").startswith(b"-OOM")
    finally:
        raw.call("CONFIG", "SET", "maxmemory", "0")


def test_redis_py_client_commands(engine_proc: Proc) -> None:
    r = redis.Redis(port=engine_proc.port, client_name="lab")
    try:
        assert r.client_getname() in ("lab", b"lab")
        cid = r.client_id()
        assert int(r.client_info()["id"]) == cid and r.client_info()["name"] == "lab"
        assert any(int(c["id"]) == cid for c in r.client_list())
        assert [int(c["id"]) for c in r.client_list(client_id=[cid])] == [cid]
        assert r.client_no_evict("on") in (b"OK", "OK", True)
        other = redis.Redis(port=engine_proc.port)
        other_id = other.client_id()
        assert r.client_kill_filter(_id=other_id) == 1
        deadline = time.monotonic() + 2
        while any(int(c["id"]) == other_id for c in r.client_list()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        other.close()
    finally:
        r.close()


def test_client_flags_come_in_redis_order(d: Differ) -> None:
    """Each connection state CLIENT INFO reports as a flag, alone and combined."""

    def flags() -> list[str]:
        return [fields(parse(c.call("CLIENT", "INFO")))["flags"] for c in (d.ref, d.eng)]

    assert flags() == ["N", "N"]
    d("CLIENT", "NO-EVICT", "on")
    assert flags() == ["e", "e"]
    d("WATCH", "flag:k")
    d("SET", "flag:k", "1")  # a watched key changed: the next EXEC will fail
    assert flags()[0] == flags()[1] == "de"
    d("MULTI")
    d("EXEC")
    d("CLIENT", "NO-EVICT", "off")
    assert flags() == ["N", "N"]
