"""The wire protocol, byte by byte: partial frames, pipelines, inline commands and
malformed input, compared with redis-server where Redis defines the answer."""

from __future__ import annotations

import socket
import time

import pytest

from sandbox.engine.resp import encode_command

from .rawclient import RawClient

PIPELINE = (
    encode_command(["ECHO", "hello"])
    + b"PING\r\n"
    + encode_command(["ECHO", "a\r\nb"])
    + b'ECHO "quoted \\x41\\n" \'single\'\r\n'
    + b"\r\n"  # an empty inline line is ignored
    + encode_command(["PING", "x" * 40])
)
PIPELINE_REPLIES = (
    b"$5\r\nhello\r\n+PONG\r\n$4\r\na\r\nb\r\n-ERR wrong number of arguments for 'echo' command\r\n"
    + b"$40\r\n" + b"x" * 40 + b"\r\n"
)


def read_n(client: RawClient, n: int) -> bytes:
    return b"".join(client.read_frame() for _ in range(n))


def test_it_answers_a_mixed_pipeline_like_redis(diff):
    diff.ref.send(PIPELINE)
    diff.eng.send(PIPELINE)
    assert read_n(diff.eng, 5) == read_n(diff.ref, 5) == PIPELINE_REPLIES


def test_it_waits_for_the_rest_of_a_frame_split_at_every_byte(engine_proc):
    with RawClient(engine_proc.port) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for cut in range(1, len(PIPELINE)):
            c.send(PIPELINE[:cut])
            time.sleep(0.001)
            c.send(PIPELINE[cut:])
            assert read_n(c, 5) == PIPELINE_REPLIES, f"split at byte {cut}"


def test_it_parses_a_frame_sent_one_byte_at_a_time(engine_proc):
    with RawClient(engine_proc.port) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in PIPELINE:
            c.send(bytes([byte]))
        assert read_n(c, 5) == PIPELINE_REPLIES


def test_it_answers_a_large_pipeline_in_order(engine_proc):
    with RawClient(engine_proc.port) as c:
        c.send(b"".join(encode_command(["ECHO", str(i)]) for i in range(5000)))
        for i in range(5000):
            assert c.read_frame() == b"$%d\r\n%d\r\n" % (len(str(i)), i)


def test_inline_commands_follow_redis_quoting(diff):
    cases = [
        b'ECHO "a b"\r\n',
        b"ECHO 'it\\'s'\r\n",
        b'ECHO "\\x41\\x4a\\t"\r\n',
        b"ECHO plain\n",
        b"   ECHO    spaced   \r\n",
        b'ECHO "\\q"\r\n',
    ]
    for case in cases:
        ref, eng = diff.raw(case)
        assert eng == ref, case


MALFORMED = [
    b"*abc\r\n",
    b"*1\r\n:5\r\n",
    b"*1\r\n$-5\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$01\r\n",
    b"*01\r\n",
    b"*3000000000\r\n",
    b"*1\r\n$600000000\r\n",
    b'"unbalanced\r\n',
    b'ECHO "closed"x\r\n',
    b"*" + b"1" * 70000,
    b"*1\r\n$" + b"1" * 70000,
    b"A" * 70000,
]


@pytest.mark.parametrize("frame", MALFORMED, ids=lambda f: repr(f[:20]))
def test_it_rejects_malformed_frames_like_redis_and_closes_only_that_connection(diff, engine_proc, frame):
    for client in (diff.ref, diff.eng):
        client.send(b"PING\r\n" + frame)
    expected = read_n(diff.ref, 2)
    assert expected.startswith(b"+PONG\r\n-ERR Protocol error")
    assert read_n(diff.eng, 2) == expected
    assert diff.eng.read_closed() and diff.ref.read_closed()
    with RawClient(engine_proc.port) as other:
        assert other.call("PING") == b"+PONG\r\n"


def test_empty_multibulk_is_ignored(diff):
    ref, eng = diff.raw(b"*0\r\n*-1\r\nPING\r\n")
    assert eng == ref == b"+PONG\r\n"


def test_the_two_bytes_after_a_bulk_are_skipped_like_redis(diff):
    ref, eng = diff.raw(b"*2\r\n$4\r\nECHO\r\n$2\r\nhiXY")
    assert eng == ref == b"$2\r\nhi\r\n"


def test_a_silent_half_sent_command_does_not_stall_others(engine_proc):
    with RawClient(engine_proc.port) as stalled, RawClient(engine_proc.port) as other:
        stalled.send(b"*2\r\n$4\r\nECHO\r\n$100\r\nonly-part")
        started = time.monotonic()
        for _ in range(50):
            assert other.call("PING") == b"+PONG\r\n"
        assert time.monotonic() - started < 2.0
        stalled.send(b"x" * (100 - len(b"only-part")) + b"\r\n")
        assert stalled.read_frame() == b"$100\r\nonly-part" + b"x" * 91 + b"\r\n"


def test_unknown_commands_preview_their_arguments_like_redis(diff):
    diff("NOPE")
    diff("NOPE", "a", "b c", "")
    diff("NoPe", *["arg%d" % i for i in range(60)])
    diff("NOPE", "x" * 300)
    diff("NOPE", "line\r\nbreak")
    diff("x" * 200)
