"""A raw RESP client for tests: sends commands, returns each reply's exact bytes."""

from __future__ import annotations

import socket

from sandbox.engine.resp import encode_command


class RawClient:
    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args: bytes | str | int) -> bytes:
        self.send(encode_command(args))
        return self.read_frame()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def _line(self, pos: int) -> int:
        while True:
            nl = self.buf.find(b"\r\n", pos)
            if nl >= 0:
                return nl
            self._fill()

    def _frame_end(self, pos: int) -> int:
        """Index just past the frame starting at ``pos`` (reading more as needed)."""
        nl = self._line(pos)
        kind = self.buf[pos : pos + 1]
        head = self.buf[pos + 1 : nl]
        end = nl + 2
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return end
            while len(self.buf) < end + n + 2:
                self._fill()
            return end + n + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(head)
            if n < 0:
                return end
            if kind in (b"%", b"|"):
                n *= 2
            for _ in range(n):
                end = self._frame_end(end)
            if kind == b"|":  # an attribute precedes the real reply
                end = self._frame_end(end)
            return end
        return end

    def read_frame(self) -> bytes:
        if not self.buf:
            self._fill()
        end = self._frame_end(0)
        frame, self.buf = self.buf[:end], self.buf[end:]
        return frame

    def read_closed(self, timeout: float = 2.0) -> bool:
        """True if the server closes the connection (after anything still buffered)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
