"""Hash slots: CRC16-XMODEM of the key (or of its ``{hash tag}``) mod 16384.

The hash tag is the bytes between the first ``{`` and the first ``}`` after it,
used only when that span is non-empty (cluster spec): ``foo{}{bar}`` hashes the
whole key, ``foo{{bar}}zap`` hashes ``{bar``.
"""

from __future__ import annotations

from binascii import crc_hqx

SLOTS = 16384


def crc16(data: bytes) -> int:
    """CRC16-XMODEM (polynomial 0x1021, initial value 0): the CRC the cluster spec
    names. ``binascii.crc_hqx`` is exactly that CRC (CRC-CCITT as BinHex uses it) in
    C; ``tests/engine/test_cluster_node.py`` checks it against the spec's example
    and a bit-by-bit reference."""
    return crc_hqx(data, 0)


def key_slot(key: bytes) -> int:
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc16(key) & (SLOTS - 1)
