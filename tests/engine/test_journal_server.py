"""Real journal processes: three replicas on loopback, SIGKILL the leader, nothing lost;
a replica whose log file is corrupt in the middle recovers from the other two, and
refuses to vote until it has; with a secret, neither a client nor a process posing as
a peer gets anything done without proving it."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from sandbox.engine import journal_auth
from sandbox.engine.journal_server import JournalConfig, JournalServer
from sandbox.engine.journal_state import AppendCommand, EntryKind, encode_command
from sandbox.engine.raft import Entry, HardState, Persist, PersistentState
from sandbox.engine.raft_messages import AppendRequest, AppendResponse, encode_message, persist_records
from sandbox.engine.records import RecordFile, UnsupportedFormatError, encode_header, scan
from sandbox.engine.resp import encode_command as encode_resp

from .rawclient import RawClient

IDS = ("az-a", "az-b", "az-c")
ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    def __init__(self, tmp: Path, secret: str = "") -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}
        self.secret = secret  # "": the journal runs without authentication
        if secret:
            fd = os.open(tmp / "journal.secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secret + "\n")

    def start(self, node: str) -> None:
        addr = self.tmp / "disco" / f"{node}.json"
        if addr.exists():
            addr.unlink()  # a restarted replica publishes new ports
        n = self.starts[node] = self.starts.get(node, 0) + 1
        with open(self.tmp / f"{node}.{n}.out", "wb") as out, open(self.tmp / f"{node}.{n}.err", "wb") as err:
            self.procs[node] = subprocess.Popen(
                [sys.executable, "-m", "sandbox.engine.journal_server", "--id", node, "--peers", ",".join(IDS),
                 "--data-dir", str(self.tmp / node), "--discovery-dir", str(self.tmp / "disco"),
                 *(["--auth-file", str(self.tmp / "journal.secret")] if self.secret else [])],
                cwd=ROOT, stdout=out, stderr=err,
            )

    def stderr(self, node: str) -> str:
        return (self.tmp / f"{node}.{self.starts[node]}.err").read_text(errors="replace")

    def events(self, node: str) -> list[dict[str, Any]]:
        """The JSON lines the current incarnation of `node` printed on stdout."""
        lines = (self.tmp / f"{node}.{self.starts[node]}.out").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def log_path(self, node: str) -> Path:
        return self.tmp / node / f"{node}.journal"

    def address(self, node: str, timeout: float = 10.0) -> dict[str, Any]:
        addr = self.tmp / "disco" / f"{node}.json"
        deadline = time.monotonic() + timeout
        while not addr.exists():
            assert self.procs[node].poll() is None, self.stderr(node)
            assert time.monotonic() < deadline, f"{node} never published its address"
            time.sleep(0.02)
        return json.loads(addr.read_text())  # type: ignore[no-any-return]

    def client(self, node: str, timeout: float = 10.0) -> redis.Redis:
        port = self.address(node, timeout)["client_port"]
        return redis.Redis("127.0.0.1", port, socket_timeout=10, protocol=2, password=self.secret or None)

    def kill(self, node: str) -> None:
        proc = self.procs[node]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_leader(clients: dict[str, redis.Redis], timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node, c in clients.items():
            try:
                role = c.execute_command("JROLE")
            except redis.ConnectionError:
                continue
            if role[1] == b"leader":
                return node
        time.sleep(0.05)
    raise AssertionError("no journal leader elected")


def append(c: redis.Redis, after: int, payload: bytes) -> int:
    return int(c.execute_command("JAPPEND", "s", after, "data", payload))


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop_all()  # always kill what we started, by pid


def test_appends_survive_sigkill_of_the_leader(cluster: Cluster) -> None:
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    leader = wait_leader(clients)
    acked: dict[int, bytes] = {}
    tail = 0
    for i in range(20):
        tail = append(clients[leader], tail, b"before-%d" % i)
        acked[tail] = b"before-%d" % i
    with pytest.raises(redis.ResponseError, match="CONDFAIL 20"):
        append(clients[leader], 3, b"stale")  # a writer that is not caught up is refused
    follower = next(n for n in IDS if n != leader)
    with pytest.raises(redis.ResponseError, match="NOTLEADER 127.0.0.1:"):
        append(clients[follower], tail, b"wrong replica")

    cluster.kill(leader)
    survivors = {n: c for n, c in clients.items() if n != leader}
    new_leader = wait_leader(survivors)
    assert int(survivors[new_leader].execute_command("JTAIL", "s")) == tail
    for i in range(20):
        tail = append(survivors[new_leader], tail, b"after-%d" % i)
        acked[tail] = b"after-%d" % i

    cluster.start(leader)  # restarts from its log file and catches up from its peers
    clients[leader] = cluster.client(leader)
    deadline = time.monotonic() + 15
    while int(clients[leader].execute_command("JTAIL", "s")) < tail:
        assert time.monotonic() < deadline, "restarted replica never caught up"
        time.sleep(0.05)
    for node, c in clients.items():
        entries = c.execute_command("JREAD", "s", 0, 1000, 0)
        got = {int(i): data for i, kind, data in entries}
        assert got == acked, node  # every acknowledged append, exactly once, at its id


def test_jread_blocks_until_an_entry_commits(cluster: Cluster) -> None:
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    leader = wait_leader(clients)
    assert clients[leader].execute_command("JREAD", "s", 0, 10, 0) == []
    started = time.monotonic()
    assert clients[leader].execute_command("JREAD", "s", 0, 10, 300) == []
    assert time.monotonic() - started >= 0.25
    append(clients[leader], 0, b"x")
    assert clients[leader].execute_command("JREAD", "s", 0, 10, 1000) == [[1, b"data", b"x"]]
    assert clients[leader].execute_command("JLEADER", "s") is None


# -- a replica whose log file is corrupt in the middle --------------------------------------


def corrupt_middle_record(path: Path, min_records: int = 100) -> tuple[int, bytes]:
    """Flip a payload byte of the record in the middle of the log; (its offset, new image)."""
    data = bytearray(path.read_bytes())
    result = scan(bytes(data))
    assert result.torn is None and len(result.offsets) > min_records
    offset = result.offsets[len(result.offsets) // 2]
    data[offset + 8 + 3] ^= 0x5A  # 8 = length + crc: a byte inside the payload
    path.write_bytes(bytes(data))
    return offset, bytes(data)


def _write_log(path: Path, entries: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    f, _ = RecordFile.open(str(path))
    f.append_many(persist_records(Persist(HardState(3, "az-b"), tuple(Entry(i, 3, b"e%d" % i) for i in range(1, entries + 1)))))
    f.close()


def test_a_corrupt_log_is_set_aside_and_the_replica_starts_recovering(tmp_path: Path) -> None:
    config = JournalConfig("az-a", IDS, str(tmp_path / "az-a"), str(tmp_path / "disco"))
    path = tmp_path / "az-a" / "az-a.journal"
    _write_log(path, 50)
    offset, damaged = corrupt_middle_record(path, min_records=20)
    events: list[dict[str, Any]] = []
    server = JournalServer(config, on_event=events.append)
    server.file.close()
    (event,) = events
    assert event["event"] == "journal_log_corrupt" and event["offset"] == offset and event["file"] == str(path)
    assert Path(event["moved_to"]).read_bytes() == damaged
    assert server.node.recovering and (server.node.term, server.node.voted_for, server.node.log.last_index) == (0, None, 0)
    assert PersistentState.from_records(scan(path.read_bytes()).records).hard_state == HardState(recovering=True)
    assert not (tmp_path / "az-a" / "az-a.journal.recovering").exists()
    again = JournalServer(config, on_event=events.append)  # a restart mid-recovery: still recovering, no new report
    again.file.close()
    assert again.node.recovering and len(events) == 1


def test_a_log_of_another_format_version_is_refused_not_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "az-a" / "az-a.journal"
    path.parent.mkdir()
    header = bytearray(encode_header())
    header[9] = 9
    path.write_bytes(bytes(header) + b"records a newer version wrote")
    with pytest.raises(UnsupportedFormatError):
        JournalServer(JournalConfig("az-a", IDS, str(path.parent), str(tmp_path / "disco")), on_event=print)
    assert sorted(p.name for p in path.parent.iterdir()) == ["az-a.journal"]


def wait_for(what: str, predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (redis.ConnectionError, redis.TimeoutError, OSError, ValueError):
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def read_all(c: redis.Redis) -> list[tuple[int, bytes]]:
    return [(int(i), data) for i, kind, data in c.execute_command("JREAD", "s", 0, 100000, 0)]


class Writer(threading.Thread):
    """Appends unique payloads to the leader until stopped; records what was acknowledged
    (and when), and what was tried without an answer (it may or may not be in the log)."""

    def __init__(self, cluster: Cluster, nodes: tuple[str, ...], tail: int) -> None:
        super().__init__(daemon=True)
        self.cluster, self.nodes, self.tail = cluster, nodes, tail
        self.acked: dict[int, bytes] = {}
        self.ack_times: list[float] = []
        self.unknown: set[bytes] = set()
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        clients = {n: self.cluster.client(n) for n in self.nodes}
        leader = wait_leader(clients)
        k = 0
        while not self.stop.is_set():
            payload = b"during-%d" % k
            k += 1
            try:
                self.tail = append(clients[leader], self.tail, payload)
                self.acked[self.tail] = payload
                self.ack_times.append(time.monotonic())
            except (redis.ResponseError, redis.ConnectionError, redis.TimeoutError) as exc:
                self.errors.append(str(exc))  # e.g. an election on a loaded machine: find the leader again
                self.unknown.add(payload)
                leader = wait_leader(clients)
                self.tail = int(clients[leader].execute_command("JTAIL", "s"))
            time.sleep(0.002)


def test_a_replica_with_a_corrupt_log_reports_it_and_recovers_from_the_others(cluster: Cluster) -> None:
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    leader = wait_leader(clients)
    acked: dict[int, bytes] = {}
    tail = 0
    for i in range(300):
        tail = append(clients[leader], tail, b"before-%d-" % i + b"x" * 40)
        acked[tail] = b"before-%d-" % i + b"x" * 40
    victim = next(n for n in IDS if n != leader)
    wait_for(f"{victim} to catch up", lambda: int(clients[victim].execute_command("JTAIL", "s")) == tail)
    cluster.kill(victim)
    offset, damaged = corrupt_middle_record(cluster.log_path(victim))

    healthy = tuple(n for n in IDS if n != victim)
    writer = Writer(cluster, healthy, tail)  # appends keep going while the victim is down and recovering
    writer.start()
    time.sleep(0.3)
    started = time.monotonic()
    cluster.start(victim)
    clients[victim] = cluster.client(victim)

    # It says clearly what it found, and kept the bad file for inspection.
    corrupt = wait_for("the corruption event", lambda: [e for e in cluster.events(victim) if e["event"] == "journal_log_corrupt"])
    event = corrupt[0]
    assert event["file"] == str(cluster.log_path(victim))
    assert event["offset"] == offset and "crc mismatch" in event["reason"]
    assert Path(event["moved_to"]).read_bytes() == damaged
    assert Path(event["moved_to"]).name.startswith(f"{victim}.journal.corrupt-")
    assert f"corrupt record at byte offset {offset}" in cluster.stderr(victim)

    # It recovers from the other two zones while appends go on, then votes again.
    recovered = wait_for("recovery", lambda: [e for e in cluster.events(victim) if e["event"] == "journal_recovered"])
    seen_recovered = time.monotonic()
    assert recovered[0]["index"] > 300
    assert clients[victim].execute_command("JROLE")[5] == 0
    time.sleep(0.3)
    writer.stop.set()
    writer.join(10)
    assert not writer.is_alive()
    assert any(started <= t <= seen_recovered for t in writer.ack_times), "no append was acknowledged during recovery"
    assert len(writer.acked) > 20 and len(writer.errors) <= 3, writer.errors
    final = writer.tail
    wait_for(f"{victim} to reach {final}", lambda: int(clients[victim].execute_command("JTAIL", "s")) == final)
    histories = {n: read_all(c) for n, c in clients.items()}
    assert histories[victim] == histories[leader] == histories[next(n for n in healthy if n != leader)]
    history = dict(histories[victim])
    acked.update(writer.acked)
    assert {i: history.get(i) for i in acked} == acked  # every acknowledged append at its id
    assert len(set(history.values())) == len(history)  # each exactly once
    assert set(history.values()) <= set(acked.values()) | writer.unknown  # and nothing else
    # The recovered log file is healthy: a restart reads it back without recovering again.
    cluster.kill(victim)
    cluster.start(victim)
    clients[victim] = cluster.client(victim)
    wait_for("a restarted leader view", lambda: clients[victim].execute_command("JROLE")[3] is not None)
    assert clients[victim].execute_command("JROLE")[5] == 0
    assert not [e for e in cluster.events(victim) if e["event"] == "journal_log_corrupt"]


def test_a_recovering_replica_refuses_to_vote(cluster: Cluster) -> None:
    # Entries committed on {leader, B} only; B's log is corrupted, the leader dies. B
    # and C are a majority, but C lacks the entries: if B voted, C would win and the
    # acknowledged entries would be gone. B refuses; nobody leads until A is back.
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    a = wait_leader(clients)
    b, c = [n for n in IDS if n != a]
    cluster.kill(c)
    acked: dict[int, bytes] = {}
    tail = 0
    for i in range(200):
        tail = append(clients[a], tail, b"only-on-a-and-b-%d" % i)
        acked[tail] = b"only-on-a-and-b-%d" % i
    wait_for(f"{b} to hold everything", lambda: int(clients[b].execute_command("JTAIL", "s")) == tail)
    cluster.kill(b)
    corrupt_middle_record(cluster.log_path(b))
    cluster.kill(a)
    cluster.start(c)
    cluster.start(b)
    clients[b], clients[c] = cluster.client(b), cluster.client(c)
    deadline = time.monotonic() + 4.0  # several election timeouts (300-600 ms)
    while time.monotonic() < deadline:
        roles = {n: clients[n].execute_command("JROLE") for n in (b, c)}
        assert all(r[1] != b"leader" for r in roles.values()), roles
        assert roles[b][5] == 1, roles  # still recovering
        time.sleep(0.1)
    assert any(e["event"] == "journal_log_corrupt" for e in cluster.events(b))
    assert int(clients[c].execute_command("JTAIL", "s")) == 0  # C never learned the entries

    cluster.start(a)
    clients[a] = cluster.client(a)
    assert wait_leader(clients) == a  # only A holds the entries, so only A can win
    wait_for(f"{b} to recover", lambda: clients[b].execute_command("JROLE")[5] == 0)
    for node in IDS:
        wait_for(f"{node} to catch up", lambda: int(clients[node].execute_command("JTAIL", "s")) == tail)
        assert dict(read_all(clients[node])) == acked, node


# -- with a secret: clients log in, peers prove it ---------------------------------------------

SECRET = "5e" * 32
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid journal secret\r\n"


@pytest.fixture
def secured(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path, secret=SECRET)
    try:
        yield c
    finally:
        c.stop_all()


def started_with_entries(cluster: Cluster, count: int) -> tuple[dict[str, redis.Redis], str, list[tuple[int, bytes]]]:
    """All three replicas running, `count` entries appended; (clients, leader, entries)."""
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    leader = wait_leader(clients)
    for i in range(count):
        append(clients[leader], i, b"kept-%d" % i)
    return clients, leader, [(i + 1, b"kept-%d" % i) for i in range(count)]


def test_with_a_secret_a_client_must_log_in_before_any_command(secured: Cluster) -> None:
    clients, leader, kept = started_with_entries(secured, 5)
    port = secured.address(leader)["client_port"]
    with RawClient(port) as c:
        for args in (("PING",), ("JAPPEND", "s", 5, "data", "injected"), ("JTRIM", "s", 5, "snap"),
                     ("JREAD", "s", 0, 10, 0), ("JTAIL", "s"), ("JLEADER", "s"), ("JROLE",)):
            assert c.call(*args) == NOAUTH, args
        assert c.call("AUTH", "5e" * 31 + "5f") == WRONGPASS  # one digit off
        assert c.call("AUTH", "supervisor", SECRET).startswith(b"-ERR wrong number of arguments for 'auth'")
        assert c.call("JTAIL", "s") == NOAUTH
        assert c.call("AUTH", SECRET) == b"+OK\r\n"
        assert c.call("JTAIL", "s") == b":5\r\n"
    # Neither the append nor the trim happened, on any replica.
    for node, client in clients.items():
        wait_for(f"{node} to hold the entries", lambda: read_all(client) == kept)
    # AUTH pipelined with the commands after it: they run as the logged-in connection.
    with RawClient(port) as c:
        c.send(encode_resp(("AUTH", SECRET)) + encode_resp(("JAPPEND", "s", 5, "data", "after")))
        assert (c.read_frame(), c.read_frame()) == (b"+OK\r\n", b":6\r\n")
    # A connection that keeps guessing is closed at the third wrong secret.
    with RawClient(port) as c:
        for _ in range(3):
            assert c.call("AUTH", "guess-" + "0" * 20) == WRONGPASS
        with pytest.raises(ConnectionError):
            c.call("AUTH", SECRET)
    # Before AUTH a command may not be large (redis-server's limits): the connection ends.
    with RawClient(port) as c:
        with pytest.raises(ConnectionError):
            c.call("JAPPEND", "s", 6, "data", b"x" * 20_000)
    assert append(clients[leader], 6, b"still served") == 7


class PeerSocket:
    """A raw connection to a replica's Raft port, speaking ``u32 length | payload`` frames."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, *payloads: bytes) -> None:
        self.sock.sendall(b"".join(struct.pack(">I", len(p)) + p for p in payloads))

    def _exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def frame(self) -> bytes | None:
        """The next frame; None once the replica has closed the connection."""
        head = self._exactly(4)
        return None if head is None else self._exactly(struct.unpack(">I", head)[0])

    def frames_until_closed(self) -> list[bytes]:
        """Every frame the replica sends before it closes the connection (within 5 s)."""
        frames = []
        while (f := self.frame()) is not None:
            frames.append(f)
        return frames

    def close(self) -> None:
        self.sock.close()


def is_hello(frame: bytes) -> bool:
    return set(json.loads(frame)) == {"journal_peer", "nonce"}


def test_without_the_secret_a_process_cannot_speak_raft_to_a_replica(secured: Cluster) -> None:
    clients, leader, kept = started_with_entries(secured, 5)
    target, posing_as = [n for n in IDS if n != leader]
    wait_for(f"{target} to know the commit", lambda: clients[target].execute_command("JROLE")[4]
             == clients[leader].execute_command("JROLE")[4] and int(clients[target].execute_command("JTAIL", "s")) == 5)
    _, _, term, _, last, _ = clients[target].execute_command("JROLE")
    injected = Entry(last + 1, term + 50, encode_command(AppendCommand("s", 5, EntryKind.DATA, b"injected")))
    # Syntactically valid Raft: an AppendRequest of a new term from another replica, that
    # a replica would follow (new term, new entry, committed), and a reply with a new term.
    attack = [encode_message(AppendRequest(posing_as, term + 50, last, term, (injected,), last + 1)),
              encode_message(AppendResponse(posing_as, term + 60, False))]
    port = secured.address(target)["raft_port"]

    def unchanged() -> None:
        for node, client in clients.items():
            assert client.execute_command("JROLE")[2] < term + 50, node
            assert read_all(client) == kept, node

    # 1. Raft frames straight away: taken as a failed proof; the connection is closed.
    peer = PeerSocket(port)
    peer.send(*attack)
    frames = peer.frames_until_closed()
    assert len(frames) == 1 and is_hello(frames[0])
    # 2. The handshake, with a proof made from a wrong secret: closed, nothing accepted.
    peer = PeerSocket(port)
    hello = peer.frame()
    assert hello is not None and is_hello(hello)
    proof, _, _ = journal_auth.prove(b"not-the-secret-" * 2, hello, posing_as, target)
    peer.send(proof, *attack)
    assert peer.frames_until_closed() == []
    # 3. Nothing but closing: the replica gives up on it.
    peer = PeerSocket(port)
    assert [is_hello(f) for f in peer.frames_until_closed()] == [True]
    time.sleep(0.3)
    unchanged()
    # 4. A replica that proved who it is cannot speak for another one.
    peer = PeerSocket(port)
    hello = peer.frame()
    assert hello is not None
    proof, _, _ = journal_auth.prove(SECRET.encode(), hello, leader, target)
    peer.send(proof)
    assert peer.frame() is not None  # ACCEPT
    peer.send(*attack)  # from posing_as, over the link `leader` proved
    assert peer.frames_until_closed() == []
    time.sleep(0.3)
    unchanged()
    # Control: the same frames, from a process that knows the secret, do take effect.
    peer = PeerSocket(port)
    hello = peer.frame()
    assert hello is not None
    proof, server_nonce, client_nonce = journal_auth.prove(SECRET.encode(), hello, posing_as, target)
    peer.send(proof)
    accept = peer.frame()
    assert accept is not None
    journal_auth.check_accept(SECRET.encode(), accept, server_nonce, client_nonce, posing_as, target)
    peer.send(attack[0])
    wait_for("the injected entry", lambda: int(clients[target].execute_command("JTAIL", "s")) == 6)
    assert clients[target].execute_command("JROLE")[2] >= term + 50
    peer.close()


def test_a_replica_refuses_a_secret_file_other_users_can_read(tmp_path: Path) -> None:
    secret = tmp_path / "journal.secret"
    secret.write_text(SECRET)
    secret.chmod(0o644)
    out = subprocess.run(
        [sys.executable, "-m", "sandbox.engine", "journal", "--id", "az-a", "--peers", ",".join(IDS),
         "--dir", str(tmp_path / "az-a"), "--discovery-dir", str(tmp_path / "disco"), "--auth-file", str(secret)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 1
    assert f"the journal secret file {secret} is accessible to other users (mode 0644); it must be 0600" in out.stderr
    assert not (tmp_path / "disco").exists()  # it never started listening


class Exited(Exception):
    """Raised in place of os._exit by the ``exits`` fixture."""


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> None:
    """os._exit raises Exited(code) instead of ending the test process."""

    def exit_(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(os, "_exit", exit_)


def test_a_failed_fsync_stops_the_replica_before_anything_is_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exits: None
) -> None:
    """A disk that fails fsync can't be produced here, so os.fsync is made to fail:
    the replica must stop at once (os._exit) rather than log the error from an event
    loop callback and go on telling Raft that the entries are durable."""
    config = JournalConfig("az-a", IDS, str(tmp_path / "az-a"), str(tmp_path / "disco"))
    server = JournalServer(config, on_event=lambda event: None)
    persisted: list[tuple[int, int]] = []
    monkeypatch.setattr(server.node, "persisted", lambda index, term: persisted.append((index, term)) or [])

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    server.dirty = True
    try:
        with pytest.raises(Exited) as stopped:
            server._flush()
    finally:
        server.file.close()
    assert stopped.value.args == (1,)
    assert persisted == []  # Raft never heard that anything was durable
    assert "fsync failed" in capsys.readouterr().err


def test_a_failed_log_write_stops_the_replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exits: None) -> None:
    """The same for a write to the log (a full or failing disk)."""
    from sandbox.engine.raft import Entry, Persist

    config = JournalConfig("az-a", IDS, str(tmp_path / "az-a"), str(tmp_path / "disco"))
    server = JournalServer(config, on_event=lambda event: None)

    def failing_append(records: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(server.file, "append_many", failing_append)
    try:
        with pytest.raises(Exited) as stopped:
            server.handle([Persist(entries=(Entry(1, 1, b"x"),))])
    finally:
        server.file.close()
    assert stopped.value.args == (1,)
