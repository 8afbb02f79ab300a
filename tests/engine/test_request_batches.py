"""Pipelined requests split in one pass (RequestParser._batch): the same commands,
the same errors at the same place, the same limits and buffer accounting as the
command-at-a-time parsers, and less CPU per command."""

from __future__ import annotations

import random
import time

import pytest

from sandbox.engine import errors
from sandbox.engine.errors import ProtocolError
from sandbox.engine.resp import RequestParser, encode_command


def drain(parser: RequestParser) -> list[list[bytes]]:
    out = []
    while (argv := parser.next_command()) is not None:
        out.append(argv)
    return out


def random_argv(rng: random.Random) -> list[bytes]:
    def arg() -> bytes:
        r = rng.random()
        if r < 0.1:
            return b"a\r\nb"  # a payload the CRLF split cuts in two
        if r < 0.15:
            return b""
        if r < 0.2:
            return b"x" * rng.choice([1024, 1025, 5000])
        if r < 0.3:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        return b"key:%d" % rng.randrange(10**6)

    return [arg() for _ in range(rng.choice([1, 2, 3, 3, 5, 12]))]


@pytest.mark.parametrize("seed", range(20))
def test_a_pipeline_cut_anywhere_yields_exactly_the_commands_it_encodes(seed):
    rng = random.Random(seed)
    commands = [random_argv(rng) for _ in range(rng.randrange(1, 200))]
    data = b"".join(encode_command(c) for c in commands)
    parser = RequestParser()
    got: list[list[bytes]] = []
    at = 0
    while at < len(data):
        step = rng.choice([1, 5, 300, 4000, 70000])
        parser.feed(data[at : at + step])
        at += step
        got += drain(parser)
    assert got == commands, f"seed {seed}"
    assert parser.buffered() == 0


def test_inline_commands_between_multibulk_ones_keep_their_order():
    parser = RequestParser()
    parser.feed(encode_command(["SET", "a", "1"]) + b"PING\r\n" + encode_command(["GET", "a"]) * 3 + b"ECHO 'x y'\n")
    assert drain(parser) == [[b"SET", b"a", b"1"], [b"PING"]] + [[b"GET", b"a"]] * 3 + [[b"ECHO", b"x y"]]


@pytest.mark.parametrize(
    "bad, error",
    [
        (b"*1\r\n$03\r\nabc\r\n", errors.PROTO_INVALID_BULK),  # a leading zero
        (b"*2\r\n$1\r\na\r\n:1\r\n", errors.proto_expected_dollar(ord(":"))),
        (b"*x\r\n", errors.PROTO_INVALID_MBULK),
    ],
)
def test_a_malformed_frame_after_good_ones_is_refused_only_after_them(bad, error):
    parser = RequestParser()
    good = [[b"SET", b"k%d" % i, b"v"] for i in range(20)]
    parser.feed(b"".join(encode_command(c) for c in good) + bad + encode_command(["PING"]))
    got = []
    with pytest.raises(ProtocolError) as raised:
        while True:
            got.append(parser.next_command())
    assert got == good
    assert raised.value.text == error.text


@pytest.mark.parametrize(
    "frame, argv",
    [
        (b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [b"ECHO", b"a\r\nb"]),  # CRLF inside the payload
        (b"*2\r\n$4\r\nECHO\r\n$2\r\nabXY", [b"ECHO", b"ab"]),  # Redis skips the two bytes unchecked
        (b"*1\r\n$4\r\nPING\r\n", [b"PING"]),
    ],
)
def test_a_lone_command_reads_as_the_exact_parser_reads_it(frame, argv):
    parser = RequestParser()
    parser.feed(frame)
    assert drain(parser) == [argv]
    assert parser.buffered() == 0


def test_a_lone_command_with_a_leading_zero_length_is_refused():
    parser = RequestParser()
    parser.feed(b"*1\r\n$04\r\nPING\r\n")
    with pytest.raises(ProtocolError) as raised:
        parser.next_command()
    assert raised.value.text == errors.PROTO_INVALID_BULK.text


def test_commands_split_ahead_still_count_as_buffered_input():
    parser = RequestParser()
    frames = [encode_command(["SET", "key:%d" % i, "v" * i]) for i in range(16)]
    parser.feed(b"".join(frames) + b"*3\r\n$3\r\nSET")
    assert parser.next_command() == [b"SET", b"key:0", b""]
    # A held command (a durable write) leaves the rest unprocessed: the query-buffer
    # limit must see those 15 commands, not only the unfinished tail.
    assert parser.buffered() == sum(map(len, frames[1:])) + len(b"*3\r\n$3\r\nSET")


def test_a_client_that_loses_its_authentication_mid_batch_gets_the_pre_auth_limits():
    parser = RequestParser()
    parser.feed(encode_command(["PING"]) + encode_command(["MSET"] + ["x"] * 10))
    assert parser.next_command() == [b"PING"]
    parser.auth_required = True  # e.g. the user was deleted by ACL DELUSER in between
    with pytest.raises(ProtocolError) as raised:
        parser.next_command()
    assert raised.value.text == errors.PROTO_UNAUTH_MBULK.text


def test_before_auth_a_bulk_over_16k_is_refused_in_a_batch_too():
    parser = RequestParser()
    parser.auth_required = True
    parser.feed(encode_command(["AUTH", "pw"]) + encode_command(["SET", "k", "x" * 16385]))
    assert parser.next_command() == [b"AUTH", b"pw"]
    with pytest.raises(ProtocolError) as raised:
        parser.next_command()
    assert raised.value.text == errors.PROTO_UNAUTH_BULK.text


def test_a_small_proto_max_bulk_len_is_enforced_in_a_batch():
    parser = RequestParser(max_bulk_len=10)
    parser.feed(encode_command(["SET", "k", "x" * 10]) + encode_command(["SET", "k", "x" * 11]))
    assert parser.next_command() == [b"SET", b"k", b"x" * 10]
    with pytest.raises(ProtocolError) as raised:
        parser.next_command()
    assert raised.value.text == errors.PROTO_INVALID_BULK.text


def parse_cpu_ns(batched: bool) -> float:
    """CPU time per command to parse 16-command pipelines of SET (redis-benchmark's shape)."""
    batch = b"".join(encode_command([b"SET", b"key:%012d" % i, b"xxx"]) for i in range(16))
    parser = RequestParser()
    rounds = 3000
    started = time.process_time()
    for _ in range(rounds):
        parser.feed(batch)
        if not batched:
            parser._batch_pause = 1 << 30  # the command-at-a-time parsers only
        while parser.next_command() is not None:
            pass
    return (time.process_time() - started) / (rounds * 16) * 1e9


def test_a_pipelined_batch_costs_less_cpu_per_command_than_one_at_a_time():
    # CPU time of this process, best of three: a loaded machine slows both alike.
    batched = min(parse_cpu_ns(True) for _ in range(3))
    one_by_one = min(parse_cpu_ns(False) for _ in range(3))
    assert batched < 0.75 * one_by_one, (batched, one_by_one)
