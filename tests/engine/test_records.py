"""records.py: framing, torn-tail recovery, corruption detection, compaction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.engine.records import (
    HEADER_SIZE,
    RECORD_OVERHEAD,
    CorruptLogError,
    FsyncPolicy,
    RecordFile,
    RecordFileConfig,
    UnsupportedFormatError,
    encode_header,
    encode_record,
    scan,
)

PAYLOADS = [b"alpha", b"b" * 300, b"\x00\x01\x02gamma", b"delta-" * 7]


def _write(path: Path, payloads: list[bytes], policy: FsyncPolicy = FsyncPolicy.GROUP) -> None:
    f, report = RecordFile.open(str(path), RecordFileConfig(fsync=policy))
    assert report.torn is None
    f.append_many(payloads)
    f.sync()
    f.close()


def _reopen(path: Path) -> tuple[list[bytes], object]:
    f, report = RecordFile.open(str(path))
    try:
        return list(f.records()), report
    finally:
        f.close()


def test_it_round_trips_records_under_both_fsync_policies(tmp_path: Path) -> None:
    for policy in FsyncPolicy:
        path = tmp_path / f"{policy.value}.log"
        _write(path, PAYLOADS, policy)
        records, report = _reopen(path)
        assert records == PAYLOADS
        assert report.torn is None  # type: ignore[attr-defined]


def test_it_writes_a_versioned_header_on_create(tmp_path: Path) -> None:
    path = tmp_path / "new.log"
    f, report = RecordFile.open(str(path))
    f.close()
    assert path.read_bytes() == encode_header()
    assert report.records == 0 and report.torn is None


def test_it_refuses_a_file_that_is_not_a_record_file(tmp_path: Path) -> None:
    path = tmp_path / "other.log"
    path.write_bytes(b"GARBAGE-GARBAGE-GARBAGE")
    with pytest.raises(CorruptLogError, match="bad magic"):
        RecordFile.open(str(path))


def test_it_refuses_an_unknown_format_version(tmp_path: Path) -> None:
    path = tmp_path / "v9.log"
    header = bytearray(encode_header())
    header[9] = 9
    path.write_bytes(bytes(header))
    with pytest.raises(UnsupportedFormatError, match="version 9"):
        RecordFile.open(str(path))  # another version's file: not damage, so not a plain CorruptLogError


def test_only_a_foreign_version_is_an_unsupported_format_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(b"GARBAGE-GARBAGE-GARBAGE")
    with pytest.raises(CorruptLogError) as err:
        RecordFile.open(str(path))
    assert not isinstance(err.value, UnsupportedFormatError)


def test_it_treats_a_header_torn_at_creation_as_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "torn-header.log"
    path.write_bytes(encode_header()[:5])
    records, report = _reopen(path)
    assert records == []
    assert report.torn is not None and report.torn.offset == 0  # type: ignore[attr-defined]


def test_it_rejects_empty_payloads() -> None:
    with pytest.raises(ValueError):
        encode_record(b"")


def test_it_truncates_a_tail_torn_at_every_byte_position_of_the_last_record(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _write(path, PAYLOADS)
    full = path.read_bytes()
    last_start = len(full) - (RECORD_OVERHEAD + len(PAYLOADS[-1]))
    for cut in range(last_start + 1, len(full)):
        path.write_bytes(full[:cut])
        records, report = _reopen(path)
        assert records == PAYLOADS[:-1], cut
        assert report.torn.offset == last_start  # type: ignore[attr-defined]
        assert path.stat().st_size == last_start  # the torn bytes are really gone
        # and the file accepts appends again after recovery
        f, _ = RecordFile.open(str(path))
        f.append(b"after-recovery")
        f.close()
        assert _reopen(path)[0] == PAYLOADS[:-1] + [b"after-recovery"]


def test_it_truncates_a_last_record_corrupted_at_every_byte_position(tmp_path: Path) -> None:
    path = tmp_path / "b.log"
    _write(path, PAYLOADS)
    full = path.read_bytes()
    last_start = len(full) - (RECORD_OVERHEAD + len(PAYLOADS[-1]))
    for pos in range(last_start, len(full)):
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(full)
            damaged[pos] ^= flip
            path.write_bytes(bytes(damaged))
            records, report = _reopen(path)
            assert records == PAYLOADS[:-1], (pos, flip)
            assert report.torn is not None and report.torn.offset == last_start  # type: ignore[attr-defined]


def test_it_truncates_zero_filled_garbage_after_the_last_record(tmp_path: Path) -> None:
    path = tmp_path / "z.log"
    _write(path, PAYLOADS)
    with open(path, "ab") as f:
        f.write(b"\x00" * 4096)
    records, report = _reopen(path)
    assert records == PAYLOADS
    assert report.torn.reason == "bad length"  # type: ignore[attr-defined]


def test_it_raises_on_a_bad_record_followed_by_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    _write(path, PAYLOADS)
    full = bytearray(path.read_bytes())
    second = HEADER_SIZE + RECORD_OVERHEAD + len(PAYLOADS[0])
    for pos in (second + 2, second + RECORD_OVERHEAD + 10):  # length field, then payload
        damaged = bytearray(full)
        damaged[pos] ^= 0x40
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptLogError) as err:
            RecordFile.open(str(path))
        assert not isinstance(err.value, UnsupportedFormatError)
        assert err.value.offset == second
        assert err.value.path == str(path)
        assert str(path) in str(err.value)


def test_truncate_after_drops_later_records_durably(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    f, _ = RecordFile.open(str(path))
    f.append_many(PAYLOADS)
    f.truncate_after(1)
    assert list(f.records()) == PAYLOADS[:2]
    f.append(b"replacement")
    f.sync()
    f.close()
    assert _reopen(path)[0] == PAYLOADS[:2] + [b"replacement"]
    f, _ = RecordFile.open(str(path))
    f.truncate_after(-1)
    f.close()
    assert _reopen(path)[0] == []


def test_rewrite_replaces_the_file_atomically_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "e.log"
    f, _ = RecordFile.open(str(path))
    f.append_many(PAYLOADS)
    f.rewrite([b"snapshot", b"tail-1"])
    f.append(b"tail-2")
    f.close()
    assert _reopen(path)[0] == [b"snapshot", b"tail-1", b"tail-2"]
    assert os.listdir(tmp_path) == ["e.log"]


def test_group_policy_defers_fsync_until_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    f, _ = RecordFile.open(str(tmp_path / "g.log"), RecordFileConfig(fsync=FsyncPolicy.GROUP))
    calls.clear()
    for p in PAYLOADS:
        f.append(p)
    assert calls == []
    f.sync()
    f.sync()  # nothing new: no second fsync
    assert len(calls) == 1
    f.close()
    g, _ = RecordFile.open(str(tmp_path / "h.log"), RecordFileConfig(fsync=FsyncPolicy.ALWAYS))
    calls.clear()
    for p in PAYLOADS:
        g.append(p)
    assert len(calls) == len(PAYLOADS)
    g.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=64), max_size=8), st.data())
def test_scan_never_returns_a_record_that_was_not_written(payloads: list[bytes], data: st.DataObject) -> None:
    image = encode_header() + b"".join(encode_record(p) for p in payloads)
    cut = data.draw(st.integers(min_value=HEADER_SIZE, max_value=len(image)))
    result = scan(image[:cut])
    assert result.records == payloads[: len(result.records)]
    assert (result.torn is None) == (result.valid_end == cut)
