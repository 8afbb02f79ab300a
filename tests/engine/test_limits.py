"""Resource limits: maxmemory with noeviction, output buffer limits, backpressure.

A client that doesn't read its replies must cost the node bounded memory: a
subscriber is cut off at the pub/sub output limit; a pipelining client is paused
(its input is no longer consumed) while its replies pile up; a reply bigger than
the normal output limit disconnects that client only.
"""

from __future__ import annotations

import socket
import time

from sandbox.engine.resp import encode_command

from .rawclient import RawClient
from .servers import engine_process


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_denyoom_commands_fail_with_redis_oom_text_above_maxmemory(diff):
    try:
        for client in (diff.ref, diff.eng):
            assert client.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
        diff.many("""
            SET k v
            LPUSH l a
            GET k
            DEL k
            EXISTS k
            INCR counter
        """)
    finally:
        for client in (diff.ref, diff.eng):
            client.call("CONFIG", "SET", "maxmemory", "0")
    diff("SET", "k", "v")


def test_a_subscriber_that_never_reads_is_disconnected_and_the_publisher_is_not():
    with engine_process("--pubsub-output-buffer-limit", "2mb") as eng:
        sub = socket.create_connection(("127.0.0.1", eng.port))
        sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.sendall(encode_command(["SUBSCRIBE", "news"]))
        time.sleep(0.1)
        payload = "x" * 10_000
        with RawClient(eng.port) as pub:
            receivers = []
            for _ in range(2000):
                receivers.append(pub.call("PUBLISH", "news", payload))
            assert receivers[0] == b":1\r\n"
            assert receivers[-1] == b":0\r\n", "the slow subscriber should have been dropped"
            assert pub.call("PING") == b"+PONG\r\n"
            info = pub.call("CLIENT", "LIST")
            assert info.count(b"id=") == 1
        assert rss_bytes(eng.pid) < 200 * 1024 * 1024
        sub.close()


def test_a_client_that_pipelines_without_reading_is_paused_not_buffered_forever():
    with engine_process() as eng:
        greedy = socket.create_connection(("127.0.0.1", eng.port))
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.setblocking(False)
        request = encode_command(["ECHO", "y" * 1000]) * 100
        sent = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                sent += greedy.send(request)
            except BlockingIOError:
                time.sleep(0.01)  # the engine stopped reading us: backpressure
        # ~the engine's 4 MB high-water mark plus socket buffers, not everything sent
        assert rss_bytes(eng.pid) < 150 * 1024 * 1024
        with RawClient(eng.port) as other:
            assert other.call("PING") == b"+PONG\r\n"
        greedy.close()


def test_a_reply_larger_than_the_output_limit_disconnects_only_that_client():
    with engine_process("--client-output-buffer-limit", "1mb") as eng:
        with RawClient(eng.port) as setup:
            assert setup.call("SET", "big", "z" * 3_000_000) == b"+OK\r\n"
        hog = socket.create_connection(("127.0.0.1", eng.port))
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.sendall(encode_command(["GET", "big"]) * 20)  # 60 MB of replies, never read
        deadline = time.monotonic() + 5
        with RawClient(eng.port) as other:
            while other.call("CLIENT", "LIST").count(b"id=") > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert other.call("CLIENT", "LIST").count(b"id=") == 1, "the hog should have been disconnected"
            assert other.call("STRLEN", "big") == b":3000000\r\n"
        assert rss_bytes(eng.pid) < 200 * 1024 * 1024
        hog.close()
