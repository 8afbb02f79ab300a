"""FUNCTION DUMP and FUNCTION RESTORE payloads in Redis 7.0's format: pure functions.

A payload is RDB's DUMP framing (``rdb.wrap_payload``: body, RDB version, CRC64)
around one record per library: the opcode ``FUNCTION2`` (245) and the library's code
as an RDB string (``rdb.encode_string``, so LZF-compressed as Redis compresses it).
Redis writes its libraries in its hash table's order, which is not fixed between
processes; here they go in the order they were loaded, so a one-library dump equals
redis-server's byte for byte and a larger one equals it as data.

Reading follows Redis's functionRestoreCommand: records are read while more than the
10 footer bytes remain, from the whole buffer (a truncated record may run into the
footer, and fails there as in Redis); Redis 7.0 rc1/rc2's record (opcode 246: name,
engine, optional description, code without its shebang) is read too, its code given
the ``#!<engine> name=<name>`` line Redis gives it.

Invariant: nothing here touches a node; ``read_payload`` returns the libraries' code
in payload order or raises the RedisError FUNCTION RESTORE answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import errors, rdb

OPCODE_FUNCTION_PRE_GA = 246
OPCODE_FUNCTION2 = 245
_FOOTER = 10  # RDB version (2 bytes) and CRC64 (8 bytes)


def dump_payload(codes: Iterable[bytes]) -> bytes:
    """FUNCTION DUMP's reply for libraries with these codes, in this order."""
    body = b"".join(bytes((OPCODE_FUNCTION2,)) + rdb.encode_string(code) for code in codes)
    return rdb.wrap_payload(body)


def read_payload(data: bytes, max_len: int) -> list[bytes]:
    """The libraries' code in a FUNCTION RESTORE payload; RedisError when it is not one."""
    if not rdb.open_payload(data):
        raise errors.RESTORE_BAD_PAYLOAD
    reader = rdb.Reader(data, max_len=max_len)
    codes: list[bytes] = []
    while len(data) - reader.pos > _FOOTER:
        opcode = reader.byte()
        if opcode == OPCODE_FUNCTION2:
            codes.append(_string(reader, errors.FUNCTION_RESTORE_NO_PAYLOAD))
        elif opcode == OPCODE_FUNCTION_PRE_GA:
            codes.append(_pre_ga(reader))
        else:
            raise errors.FUNCTION_RESTORE_NOT_A_FUNCTION
    return codes


def _string(reader: rdb.Reader, failure: errors.RedisError) -> bytes:
    try:
        return reader.string()
    except rdb.RdbError:
        raise failure from None


def _pre_ga(reader: rdb.Reader) -> bytes:
    failed = errors.FUNCTION_RESTORE_PRE_GA
    name = _string(reader, failed["name"])
    engine = _string(reader, failed["engine"])
    try:
        has_description = reader.length()
    except rdb.RdbError:
        raise failed["blob"] from None
    if has_description:
        _string(reader, failed["description"])  # Redis 7.0 GA keeps descriptions per function only
    code = _string(reader, failed["blob"])
    return b"#!%b name=%b\n%b" % (engine, name, code)
