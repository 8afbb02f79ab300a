"""The journal's shared secret: reading it, and the peer-link handshake built on it.

A durable cluster's supervisor gives every process that talks to the journal (the
three replicas, the data nodes, the snapshotter) the path of one file holding a
random secret; the secret itself is never on a command line (``/proc/*/cmdline``
is world-readable). ``load_secret`` refuses a file other users may read.

Clients authenticate on the client port with ``AUTH <secret>`` (journal_server.py
checks it with ``hmac.compare_digest``). Peer links (a replica's outgoing
connection to another replica's Raft port) use a challenge-response instead, so
that whoever answers on a peer's port -- the peer, or a process that took the port
while the peer was down -- learns nothing it could replay or use:

    acceptor  -> connector   HELLO   {"journal_peer": 1, "nonce": Ns}
    connector -> acceptor    PROOF   {"from": A, "to": B, "nonce": Nc, "mac": mac("connector", Ns, Nc, A, B)}
    acceptor  -> connector   ACCEPT  {"mac": mac("acceptor", Ns, Nc, A, B)}

with ``mac(side, ...) = HMAC-SHA256(secret, JSON [1, side, Ns, Nc, A, B])``, each
frame the usual ``u32 length | payload``. The acceptor answers a bad proof by
closing the connection (no reply to learn from); the connector sends no Raft
message before it has checked ACCEPT.

Invariants:
* A proof is bound to both nonces, so it is good for one connection only; to the
  sender's and the receiver's names, so a proof made for one replica is refused by
  another; and to the side, so an acceptor's MAC is never a valid proof.
* After the handshake the acceptor takes only messages whose ``frm`` is the name
  that was proven (journal_server.py).
* Every comparison of secret material is ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from typing import Any

PEER_PROTOCOL = 1
HANDSHAKE_MAX_BYTES = 1024  # no handshake frame is larger; a bigger length ends the connection
SECRET_MIN_LENGTH = 16


class HandshakeError(ValueError):
    """A peer handshake frame that is malformed or does not prove the secret."""


def new_secret() -> str:
    """A fresh secret: 64 hex digits (nothing to quote, nothing a shell or RESP splits)."""
    return secrets.token_hex(32)


def check_secret(secret: str, source: str) -> bytes:
    """The secret as bytes; ValueError if it is too short or holds whitespace."""
    if len(secret) < SECRET_MIN_LENGTH or any(c.isspace() for c in secret):
        raise ValueError(f"the journal secret from {source} must be at least {SECRET_MIN_LENGTH} characters "
                         "without whitespace")
    return secret.encode()


def load_secret(path: str) -> bytes:
    """Read the secret from ``path`` (surrounding whitespace ignored). Raises OSError
    if it can't be read and ValueError if it is unusable: readable or writable by
    other users, too short, or holding whitespace."""
    with open(path, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"the journal secret file {path} is accessible to other users "
                             f"(mode {stat.S_IMODE(mode):04o}); it must be 0600")
        text = f.read().decode("utf-8", "replace").strip()
    return check_secret(text, path)


# -- the peer handshake -------------------------------------------------------------------


def _mac(secret: bytes, side: str, server_nonce: str, client_nonce: str, frm: str, to: str) -> str:
    message = json.dumps([PEER_PROTOCOL, side, server_nonce, client_nonce, frm, to]).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _fields(payload: bytes, *names: str) -> list[str]:
    """The named string fields of a JSON object frame, or HandshakeError."""
    try:
        obj: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise HandshakeError("not a handshake frame") from None
    if not isinstance(obj, dict) or not all(isinstance(obj.get(n), str) for n in names):
        raise HandshakeError(f"a handshake frame needs the string fields {', '.join(names)}")
    return [obj[n] for n in names]


def hello() -> tuple[bytes, str]:
    """The acceptor's first frame, and the nonce it carries."""
    nonce = secrets.token_hex(16)
    return json.dumps({"journal_peer": PEER_PROTOCOL, "nonce": nonce}).encode(), nonce


def prove(secret: bytes, hello_frame: bytes, frm: str, to: str) -> tuple[bytes, str, str]:
    """The connector's answer to HELLO: (PROOF frame, the acceptor's nonce, our nonce)."""
    (server_nonce,) = _fields(hello_frame, "nonce")
    client_nonce = secrets.token_hex(16)
    proof = {"from": frm, "to": to, "nonce": client_nonce,
             "mac": _mac(secret, "connector", server_nonce, client_nonce, frm, to)}
    return json.dumps(proof).encode(), server_nonce, client_nonce


def accept(secret: bytes, server_nonce: str, proof_frame: bytes, me: str, peers: tuple[str, ...]) -> tuple[str, bytes]:
    """Check a PROOF sent to replica ``me``: (the proven sender, the ACCEPT frame).
    HandshakeError unless it comes from another replica of the group and proves the
    secret for this connection."""
    frm, to, client_nonce, mac = _fields(proof_frame, "from", "to", "nonce", "mac")
    if to != me or frm == me or frm not in peers:
        raise HandshakeError(f"a proof from {frm!r} to {to!r} is not for this link to {me!r}")
    if not hmac.compare_digest(mac.encode(), _mac(secret, "connector", server_nonce, client_nonce, frm, to).encode()):
        raise HandshakeError(f"{frm!r} did not prove the secret")
    answer = {"mac": _mac(secret, "acceptor", server_nonce, client_nonce, frm, to)}
    return frm, json.dumps(answer).encode()


def check_accept(secret: bytes, accept_frame: bytes, server_nonce: str, client_nonce: str, frm: str, to: str) -> None:
    """The connector's check that the acceptor knows the secret too; HandshakeError if not."""
    (mac,) = _fields(accept_frame, "mac")
    if not hmac.compare_digest(mac.encode(), _mac(secret, "acceptor", server_nonce, client_nonce, frm, to).encode()):
        raise HandshakeError(f"whoever listens on {to!r}'s peer port did not prove the secret")
