"""The journal's secret file and the peer handshake (journal_auth.py), without processes:
a proof works for one connection between two named replicas and nowhere else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandbox.engine.journal_auth import HandshakeError, accept, check_accept, hello, load_secret, new_secret, prove
from sandbox.engine.raft_messages import VoteRequest, encode_message

SECRET = b"0123456789abcdef" * 4
PEERS = ("az-a", "az-b", "az-c")


def private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def test_a_secret_file_must_be_private_and_hold_a_usable_secret(tmp_path: Path) -> None:
    secret = new_secret()
    assert len(secret) == 64 and new_secret() != secret
    assert load_secret(str(private(tmp_path / "ok", secret + "\n"))) == secret.encode()
    shared = private(tmp_path / "shared", secret)
    for mode in (0o640, 0o604, 0o620):
        shared.chmod(mode)
        with pytest.raises(ValueError, match=f"accessible to other users \\(mode {mode:04o}\\); it must be 0600"):
            load_secret(str(shared))
    for name, text in (("empty", ""), ("short", "abc123"), ("spaced", "0123456789 abcdef0123")):
        with pytest.raises(ValueError, match="at least 16 characters without whitespace"):
            load_secret(str(private(tmp_path / name, text)))
    with pytest.raises(FileNotFoundError):
        load_secret(str(tmp_path / "missing"))


def handshake(connector_secret: bytes, frm: str, to: str) -> tuple[bytes, str, str, bytes]:
    """A connector's proof for a fresh HELLO: (proof, server nonce, client nonce, hello)."""
    frame, nonce = hello()
    proof, server_nonce, client_nonce = prove(connector_secret, frame, frm, to)
    assert server_nonce == nonce
    return proof, server_nonce, client_nonce, frame


def test_two_replicas_with_the_secret_complete_the_handshake() -> None:
    proof, server_nonce, client_nonce, _ = handshake(SECRET, "az-a", "az-b")
    peer, answer = accept(SECRET, server_nonce, proof, "az-b", PEERS)
    assert peer == "az-a"
    check_accept(SECRET, answer, server_nonce, client_nonce, "az-a", "az-b")


def test_a_proof_is_refused_from_a_wrong_secret_another_connection_or_for_another_replica() -> None:
    proof, server_nonce, _, _ = handshake(b"not the secret at all", "az-a", "az-b")
    with pytest.raises(HandshakeError, match="'az-a' did not prove the secret"):
        accept(SECRET, server_nonce, proof, "az-b", PEERS)
    proof, _, _, _ = handshake(SECRET, "az-a", "az-b")
    _, other_connection = hello()
    with pytest.raises(HandshakeError, match="did not prove"):  # replayed on another connection
        accept(SECRET, other_connection, proof, "az-b", PEERS)
    proof, server_nonce, _, _ = handshake(SECRET, "az-a", "az-b")
    with pytest.raises(HandshakeError, match="not for this link"):  # made for az-b, shown to az-c
        accept(SECRET, server_nonce, proof, "az-c", PEERS)
    for frm in ("az-b", "az-x"):  # from itself, from outside the group
        proof, server_nonce, _, _ = handshake(SECRET, frm, "az-b")
        with pytest.raises(HandshakeError, match="not for this link"):
            accept(SECRET, server_nonce, proof, "az-b", PEERS)
    # Renaming the sender of a good proof does not make it a proof for that sender.
    proof, server_nonce, _, _ = handshake(SECRET, "az-a", "az-b")
    renamed = json.loads(proof) | {"from": "az-c"}
    with pytest.raises(HandshakeError, match="'az-c' did not prove the secret"):
        accept(SECRET, server_nonce, json.dumps(renamed).encode(), "az-b", PEERS)


def test_an_acceptors_answer_is_no_proof_and_a_listener_without_the_secret_is_found_out() -> None:
    proof, server_nonce, client_nonce, _ = handshake(SECRET, "az-a", "az-b")
    _, answer = accept(SECRET, server_nonce, proof, "az-b", PEERS)
    reflected = json.loads(proof) | {"mac": json.loads(answer)["mac"]}
    with pytest.raises(HandshakeError, match="did not prove"):
        accept(SECRET, server_nonce, json.dumps(reflected).encode(), "az-b", PEERS)
    # Whoever took az-b's port without the secret can neither echo the proof nor guess.
    for mac in (json.loads(proof)["mac"], "00" * 32):
        with pytest.raises(HandshakeError, match="did not prove the secret"):
            check_accept(SECRET, json.dumps({"mac": mac}).encode(), server_nonce, client_nonce, "az-a", "az-b")


@pytest.mark.parametrize("frame", [
    b"", b"not json", b"[]", b'{"nonce": 5}', b'{"from": "az-a"}',
    encode_message(VoteRequest("az-a", 9, 100, 9)),  # a Raft message where a proof belongs
])
def test_anything_else_is_a_handshake_error(frame: bytes) -> None:
    _, nonce = hello()
    with pytest.raises(HandshakeError):
        accept(SECRET, nonce, frame, "az-b", PEERS)
    with pytest.raises(HandshakeError):
        prove(SECRET, frame, "az-a", "az-b")
    with pytest.raises(HandshakeError):
        check_accept(SECRET, frame, nonce, nonce, "az-a", "az-b")
