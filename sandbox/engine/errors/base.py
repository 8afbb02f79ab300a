"""The error type of the engine: ``RedisError`` carries an error reply's exact wire
text; ``ProtocolError`` is one after which the connection closes.

The texts themselves live in this package's sibling modules (see ``__init__``).
"""

from __future__ import annotations

class RedisError(Exception):
    """An error reply. ``text`` is what follows ``-`` on the wire."""

    __slots__ = ("text",)

    def __init__(self, text: str | bytes) -> None:
        if isinstance(text, str):
            text = text.encode()
        # Redis never lets CR/LF into an error line (addReplyErrorLength).
        self.text: bytes = text.replace(b"\r", b" ").replace(b"\n", b" ")
        super().__init__(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisError) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RedisError({self.text!r})"


class ProtocolError(RedisError):
    """A malformed request: reply with the text, then close the connection."""


def _err(text: str) -> RedisError:
    return RedisError(text)


