"""RaftNode as a pure state machine, driven by hand (no simulator, no I/O)."""

from __future__ import annotations

import random
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.engine.raft import (
    Action,
    AppendRequest,
    AppendResponse,
    Apply,
    Entry,
    HardState,
    Message,
    NotLeaderError,
    Persist,
    PersistentState,
    Proposed,
    RaftConfig,
    RaftNode,
    Recovered,
    RecoveryRequest,
    RecoveryResponse,
    RestoreSnapshot,
    Role,
    Send,
    Snapshot,
    SnapshotRequest,
    VoteRequest,
    VoteResponse,
)
from sandbox.engine.raft_log import Progress
from sandbox.engine.raft_messages import decode_message, encode_message, persist_records

IDS = ("a", "b", "c")
CFG = RaftConfig(election_timeout_min_ms=100, election_timeout_max_ms=200, heartbeat_interval_ms=20)


class Harness:
    """Three nodes, a perfect network we can cut, and disks that fsync instantly."""

    def __init__(self, seed: int = 1, config: RaftConfig = CFG) -> None:
        self.config = config
        self.disk = {i: PersistentState() for i in IDS}
        self.nodes = {i: RaftNode(i, IDS, config, random.Random(f"{seed}-{i}")) for i in IDS}
        self.applied: dict[str, list[Entry]] = {i: [] for i in IDS}
        self.queue: deque[tuple[str, Message]] = deque()
        self.cut: set[str] = set()  # nodes whose messages are dropped
        self.now = 0

    def handle(self, node_id: str, actions: list[Action]) -> None:
        node = self.nodes[node_id]
        wrote = False
        for a in actions:
            if isinstance(a, Persist):
                self.disk[node_id].apply(a)
                wrote = True
            elif isinstance(a, Send):
                self.queue.append((a.to, a.message))
            elif isinstance(a, Apply):
                self.applied[node_id].extend(a.entries)
            elif isinstance(a, RestoreSnapshot):
                self.applied[node_id].append(Entry(a.snapshot.index, a.snapshot.term, b"SNAPSHOT"))
        if wrote:
            d = self.disk[node_id]
            self.handle(node_id, node.persisted(d.last_index, d.last_term))

    def deliver_all(self) -> None:
        while self.queue:
            to, msg = self.queue.popleft()
            if to in self.cut or msg.frm in self.cut:
                continue
            self.handle(to, self.nodes[to].step(msg, self.now))

    def run(self, ms: int, step: int = 5) -> None:
        for _ in range(ms // step):
            self.now += step
            for i in IDS:
                self.handle(i, self.nodes[i].tick(self.now))
            self.deliver_all()

    def leader(self) -> RaftNode:
        leaders = [n for n in self.nodes.values() if n.role is Role.LEADER and n.id not in self.cut]
        assert len(leaders) == 1, [(n.id, n.role, n.term) for n in self.nodes.values()]
        return leaders[0]

    def propose(self, payload: bytes) -> Proposed:
        leader = self.leader()
        actions = leader.propose(payload, self.now)
        self.handle(leader.id, actions)
        self.deliver_all()
        return next(a for a in actions if isinstance(a, Proposed))

    def restart(self, node_id: str) -> None:
        disk = self.disk[node_id]
        state = PersistentState(disk.hard_state, disk.snapshot, list(disk.entries))
        self.nodes[node_id] = RaftNode(node_id, IDS, self.config, random.Random(f"{node_id}-{self.now}"), state)
        self.applied[node_id] = []

    def lose_log(self, node_id: str) -> None:
        """What journal_server does with a corrupt log: restart from recovering=True only."""
        self.disk[node_id] = PersistentState(HardState(recovering=True))
        self.restart(node_id)


def payloads(entries: list[Entry]) -> list[bytes]:
    return [e.payload for e in entries if not e.noop]


def test_it_elects_one_leader_and_replicates_a_proposal_to_all() -> None:
    h = Harness()
    h.run(400)
    leader = h.leader()
    assert leader.term >= 1
    h.propose(b"x")
    h.propose(b"y")
    h.run(100)
    for i in IDS:
        assert payloads(h.applied[i]) == [b"x", b"y"]
        indexes = [e.index for e in h.applied[i]]
        assert indexes == list(range(1, len(indexes) + 1))  # in order, exactly once


def test_a_new_leader_appends_a_noop_in_its_term() -> None:
    h = Harness()
    h.run(400)
    leader = h.leader()
    first = leader.log.entries_from(1)[0]
    assert first.noop and first.term == leader.term


def test_propose_on_a_follower_raises_not_leader_with_a_hint() -> None:
    h = Harness()
    h.run(400)
    leader = h.leader()
    follower = next(n for n in h.nodes.values() if n is not leader)
    with pytest.raises(NotLeaderError) as err:
        follower.propose(b"x", h.now)
    assert err.value.leader == leader.id


def test_the_vote_is_persisted_before_it_is_sent() -> None:
    node = RaftNode("a", IDS, CFG, random.Random(0))
    actions = node.step(VoteRequest("b", 5, 0, 0), 0)
    kinds = [type(a).__name__ for a in actions]
    persist = next(a for a in actions if isinstance(a, Persist))
    assert persist.hard_state == HardState(5, "b")
    assert kinds.index("Persist") < kinds.index("Send")
    # and a second candidate in the same term is refused
    second = node.step(VoteRequest("c", 5, 9, 9), 1)
    reply = next(a.message for a in second if isinstance(a, Send))
    assert isinstance(reply, VoteResponse) and not reply.granted


def test_it_refuses_a_vote_to_a_candidate_with_a_shorter_log() -> None:
    state = PersistentState(HardState(2, None), None, [Entry(1, 1), Entry(2, 2)])
    node = RaftNode("a", IDS, CFG, random.Random(0), state)
    reply = next(a.message for a in node.step(VoteRequest("b", 3, 1, 1), 0) if isinstance(a, Send))
    assert isinstance(reply, VoteResponse) and not reply.granted
    assert node.term == 3 and node.voted_for is None


def test_the_leader_counts_its_own_entry_only_after_persisted() -> None:
    leader = _make_leader()
    actions = leader.propose(b"x", 10)
    prop = next(a for a in actions if isinstance(a, Proposed))
    # One follower acks: with the leader's own copy that would be a majority, but the
    # leader has not reported its fsync yet, so nothing may commit.
    leader.step(AppendResponse("b", leader.term, True, match_index=prop.index), 11)
    assert leader.commit < prop.index
    out = leader.persisted(prop.index, prop.term)
    assert leader.commit == prop.index
    assert any(isinstance(a, Apply) and a.entries[-1].index == prop.index for a in out)


def test_a_persisted_report_for_a_truncated_entry_is_ignored() -> None:
    state = PersistentState(HardState(1, None), None, [Entry(1, 1)])
    node = RaftNode("a", IDS, CFG, random.Random(0), state)
    node.step(AppendRequest("b", 1, 1, 1, (Entry(2, 1, b"old"),), 0), 0)
    node.step(AppendRequest("c", 2, 1, 1, (Entry(2, 2, b"new"),), 0), 1)  # conflict: replaces 2
    assert node.durable_index == 1
    node.persisted(2, 1)  # late report about the replaced entry
    assert node.durable_index == 1
    node.persisted(2, 2)
    assert node.durable_index == 2


def _make_leader(node_id: str = "a", state: PersistentState | None = None) -> RaftNode:
    node = RaftNode(node_id, IDS, CFG, random.Random(0), state)
    node.campaign(0)  # pre-vote
    for peer in ("b", "c"):
        node.step(VoteResponse(peer, node.term + 1, True, pre_vote=True), 1)
    for peer in ("b", "c"):
        node.step(VoteResponse(peer, node.term, True), 2)
    assert node.role is Role.LEADER
    noop = node.log.entries_from(node.log.last_index)[0]
    node.persisted(noop.index, noop.term)
    return node


def test_it_commits_earlier_term_entries_only_through_a_current_term_entry() -> None:
    # Raft Figure 8: an entry from term 1 on a majority is not committed by a term-3
    # leader counting replicas; it becomes committed with the leader's term-3 no-op.
    state = PersistentState(HardState(2, None), None, [Entry(1, 1, b"old")])
    leader = _make_leader("a", state)
    assert leader.term == 3
    leader.step(AppendResponse("b", 3, True, match_index=1), 10)
    assert leader.commit == 0
    leader.step(AppendResponse("b", 3, True, match_index=2), 11)
    assert leader.commit == 2


def test_a_follower_truncates_a_conflicting_suffix_and_acks_the_leaders_log() -> None:
    state = PersistentState(HardState(2, None), None, [Entry(1, 1), Entry(2, 2, b"stale"), Entry(3, 2, b"stale")])
    node = RaftNode("b", IDS, CFG, random.Random(0), state)
    out = node.step(AppendRequest("a", 3, 1, 1, (Entry(2, 3, b"fresh"),), 1), 0)
    persist = next(a for a in out if isinstance(a, Persist))
    assert persist.truncate_from == 2 and persist.entries == (Entry(2, 3, b"fresh"),)
    reply = next(a.message for a in out if isinstance(a, Send))
    assert isinstance(reply, AppendResponse) and reply.success and reply.match_index == 2
    assert node.log.last_index == 2


def test_a_reordered_shorter_append_does_not_truncate_later_entries() -> None:
    node = RaftNode("b", IDS, CFG, random.Random(0))
    e1, e2 = Entry(1, 1, b"1"), Entry(2, 1, b"2")
    node.step(AppendRequest("a", 1, 0, 0, (e1, e2), 0), 0)
    out = node.step(AppendRequest("a", 1, 0, 0, (e1,), 0), 1)  # an older, delayed copy
    assert node.log.last_index == 2
    assert not any(isinstance(a, Persist) and a.truncate_from for a in out)


def test_it_backs_off_to_the_conflict_and_repairs_a_divergent_follower() -> None:
    h = Harness(seed=3)
    h.run(400)
    leader = h.leader()
    victim = next(i for i in IDS if i != leader.id)
    h.cut = {victim}
    for k in range(5):
        h.propose(b"p%d" % k)
    h.cut = set()
    h.run(300)
    assert payloads(h.applied[victim]) == [b"p%d" % k for k in range(5)]


def test_a_partitioned_node_does_not_bump_the_term_or_disrupt_on_rejoin() -> None:
    h = Harness(seed=5)
    h.run(400)
    leader = h.leader()
    term = leader.term
    loner = next(i for i in IDS if i != leader.id)
    h.cut = {loner}
    h.run(2000)
    assert h.nodes[loner].term == term  # pre-votes failed, the term never moved
    h.cut = set()
    h.run(200)
    assert h.leader() is leader and leader.term == term


def test_an_isolated_leader_steps_down_and_cannot_commit() -> None:
    h = Harness(seed=7)
    h.run(400)
    old = h.leader()
    h.cut = {old.id}
    actions = old.propose(b"lost", h.now)
    h.handle(old.id, actions)
    h.run(600)
    assert old.role is not Role.LEADER
    assert b"lost" not in payloads(h.applied[old.id])
    new = h.leader()
    assert new.term > old.term - 1 and new is not old
    h.cut = set()
    h.propose(b"kept")
    h.run(300)
    for i in IDS:
        assert payloads(h.applied[i]) == [b"kept"]


def test_a_follower_behind_the_trimmed_log_gets_a_snapshot() -> None:
    h = Harness(seed=11)
    h.run(400)
    leader = h.leader()
    lagger = next(i for i in IDS if i != leader.id)
    h.cut = {lagger}
    for k in range(6):
        h.propose(b"s%d" % k)
    h.handle(leader.id, leader.compact(leader.applied, b"STATE@%d" % leader.applied))
    snap_index = leader.log.base_index
    h.cut = set()
    h.run(300)
    lag = h.nodes[lagger]
    assert lag.log.base_index == snap_index and lag.commit >= snap_index
    assert h.disk[lagger].snapshot == Snapshot(snap_index, leader.term, b"STATE@%d" % snap_index)
    h.propose(b"after")
    h.run(100)
    assert payloads(h.applied[lagger])[-1] == b"after"


def test_a_restarted_node_keeps_its_term_vote_and_log() -> None:
    h = Harness(seed=13)
    h.run(400)
    h.propose(b"x")
    h.run(100)
    victim = next(i for i in IDS if h.nodes[i].role is not Role.LEADER)
    before = h.nodes[victim]
    h.restart(victim)
    after = h.nodes[victim]
    assert (after.term, after.voted_for, after.log.last_index) == (before.term, before.voted_for, before.log.last_index)
    h.run(200)
    assert payloads(h.applied[victim]) == [b"x"]  # re-applied from the log after restart


def test_it_refuses_to_truncate_committed_entries() -> None:
    node = RaftNode("b", IDS, CFG, random.Random(0))
    node.step(AppendRequest("a", 1, 0, 0, (Entry(1, 1, b"x"), Entry(2, 1, b"y")), 2), 0)
    assert node.commit == 2
    # A message that claims prev=1 matches yet carries a different entry 2 would
    # rewrite committed history; the node trusts its commit index instead.
    node.step(AppendRequest("c", 2, 1, 1, (Entry(2, 2, b"evil"),), 2), 1)
    assert node.log.entries_from(2)[0].payload == b"y"


entries_st = st.builds(Entry, st.integers(1, 10**9), st.integers(1, 10**6), st.binary(max_size=40), st.booleans())
messages_st = st.one_of(
    st.builds(VoteRequest, st.text(max_size=8), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.booleans()),
    st.builds(VoteResponse, st.text(max_size=8), st.integers(0, 99), st.booleans(), st.booleans()),
    st.builds(
        AppendRequest,
        st.text(max_size=8),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.lists(entries_st, max_size=4).map(tuple),
        st.integers(0, 99),
    ),
    st.builds(AppendResponse, st.text(max_size=8), st.integers(0, 99), st.booleans(), st.integers(0, 9), st.integers(0, 9)),
    st.builds(SnapshotRequest, st.text(max_size=8), st.integers(0, 99), st.builds(Snapshot, st.integers(1, 99), st.integers(1, 9), st.binary(max_size=40))),
    st.builds(RecoveryRequest, st.text(max_size=8), st.integers(0, 2**62)),
    st.builds(RecoveryResponse, st.text(max_size=8), st.integers(0, 99), st.integers(0, 2**62), st.booleans(), st.integers(0, 99)),
)


@given(messages_st)
def test_messages_round_trip_through_bytes(message: Message) -> None:
    assert decode_message(encode_message(message)) == message


def test_decode_rejects_garbage() -> None:
    for junk in (b"", b"{}", b'{"type":"Nope"}', b'{"type":"VoteResponse","frm":"a"}', b"\xff"):
        with pytest.raises(ValueError):
            decode_message(junk)


@given(st.lists(st.binary(min_size=0, max_size=20), max_size=8), st.integers(1, 5))
def test_persistent_state_replays_from_its_records(payloads_: list[bytes], cut: int) -> None:
    state = PersistentState()
    records: list[bytes] = []
    actions = [Persist(HardState(1, "a", recovering=cut % 2 == 0), tuple(Entry(i + 1, 1, p) for i, p in enumerate(payloads_)))]
    if len(payloads_) >= cut:
        actions.append(Persist(HardState(2, None), (Entry(cut, 2, b"new"),), truncate_from=cut))
        actions.append(Persist(snapshot=Snapshot(cut, 2, b"snap")))
    for p in actions:
        state.apply(p)
        records.extend(persist_records(p))
    assert PersistentState.from_records(records) == state
    assert PersistentState.from_records(state.to_records()) == state


# -- recovering a lost log (raft.py, "Recovering a lost log") ------------------------------


def _recovering(node_id: str = "b", seed: int = 0) -> RaftNode:
    return RaftNode(node_id, IDS, CFG, random.Random(seed), PersistentState(HardState(recovering=True)))


def _sent(actions: list[Action]) -> list[Message]:
    return [a.message for a in actions if isinstance(a, Send)]


def _nonce(node: RaftNode) -> int:
    out = node.tick(10**6)
    requests = [m for m in _sent(out) if isinstance(m, RecoveryRequest)]
    assert requests, out
    return requests[0].nonce


def test_a_recovering_node_refuses_every_vote_and_pre_vote_and_keeps_its_term() -> None:
    node = _recovering()
    for pre_vote in (True, False):
        out = node.step(VoteRequest("a", 5, 100, 4, pre_vote=pre_vote), 0)
        (reply,) = _sent(out)
        assert isinstance(reply, VoteResponse) and not reply.granted and reply.pre_vote == pre_vote
        assert not any(isinstance(a, Persist) for a in out)  # neither the term nor a vote changed
    assert (node.term, node.voted_for, node.recovering) == (0, None, True)


def test_a_recovering_node_never_campaigns() -> None:
    node = _recovering()
    sent: list[Message] = []
    for now in range(0, 5000, 7):
        sent += _sent(node.tick(now))
    sent += _sent(node.campaign(5000))
    assert sent and all(isinstance(m, RecoveryRequest) and m.frm == "b" for m in sent)
    assert {a.to for a in node.tick(6000) if isinstance(a, Send)} == {"a", "c"}
    assert node.role is Role.FOLLOWER and node.term == 0


def test_it_acknowledges_nothing_until_every_peer_answered_and_the_newest_term_has_a_leader() -> None:
    node = _recovering()
    nonce = _nonce(node)
    append = AppendRequest("a", 3, 0, 0, (Entry(1, 3, b"x"),), 1)
    assert _sent(node.step(append, 1)) == []  # asking: a stale leader must not count our ack
    node.step(RecoveryResponse("a", 3, nonce, True, 7), 2)
    assert node.term == 0 and _sent(node.step(append, 3)) == []  # one peer is not enough
    node.step(RecoveryResponse("c", 4, nonce, False, 9), 4)  # a newer term, no leader for it yet
    assert node.term == 0 and _sent(node.step(append, 5)) == []
    node.step(RecoveryResponse("a", 3, nonce + 1, True, 7), 6)  # another incarnation's nonce
    out = node.step(RecoveryResponse("c", 4, nonce, True, 9), 7)
    assert (node.term, node.leader_id, node.recovering) == (4, "c", True)
    persist = next(a for a in out if isinstance(a, Persist))
    assert persist.hard_state == HardState(4, None, recovering=True)
    assert _sent(node.step(append, 8)) and node.term == 4  # term 3 is stale now: refused
    reply = _sent(node.step(AppendRequest("c", 4, 0, 0, (Entry(1, 4, b"y"),), 1), 9))[0]
    assert isinstance(reply, AppendResponse) and reply.success and reply.match_index == 1


def test_recovering_nodes_do_not_answer_recovery_requests_but_healthy_ones_do() -> None:
    assert _sent(_recovering("c").step(RecoveryRequest("b", 42), 0)) == []
    leader = _make_leader("a")
    out = leader.step(RecoveryRequest("b", 42), 5)
    assert _sent(out) == [RecoveryResponse("a", leader.term, 42, True, leader.log.last_index)]
    follower = RaftNode("c", IDS, CFG, random.Random(0), PersistentState(HardState(7, None), None, [Entry(1, 7)]))
    assert _sent(follower.step(RecoveryRequest("b", 42), 0)) == [RecoveryResponse("c", 7, 42, False, 1)]
    assert follower.term == 7  # a recovery request never moves anybody's term


def test_it_recovers_once_it_has_committed_the_leaders_last_index_then_votes_only_for_that_leader() -> None:
    node = _recovering()
    nonce = _nonce(node)
    node.step(RecoveryResponse("a", 2, nonce, True, 3), 1)
    node.step(RecoveryResponse("c", 2, nonce, False, 3), 2)
    entries = (Entry(1, 1, b"x"), Entry(2, 1, b"y"), Entry(3, 2, b"", noop=True))
    node.step(AppendRequest("a", 2, 0, 0, entries, 2), 3)
    assert node.recovering and node.commit == 2  # holds the log, but index 3 is not committed yet
    out = node.step(AppendRequest("a", 2, 3, 2, (), 3), 4)
    assert not node.recovering and node.voted_for == "a"
    assert Recovered(2, 3) in out
    assert next(a for a in out if isinstance(a, Persist)).hard_state == HardState(2, "a", recovering=False)
    # It may have voted in term 2 before it lost its log: now only for term 2's leader.
    refused = _sent(node.step(VoteRequest("c", 2, 3, 2), 5))[0]
    assert isinstance(refused, VoteResponse) and not refused.granted


def test_a_newer_term_while_catching_up_sends_it_back_to_asking() -> None:
    node = _recovering()
    nonce = _nonce(node)
    node.step(RecoveryResponse("a", 2, nonce, True, 50), 1)
    node.step(RecoveryResponse("c", 2, nonce, False, 50), 2)
    out = node.step(AppendRequest("c", 3, 0, 0, (Entry(1, 3),), 1), 3)
    assert node.term == 3 and node.recovering
    assert [m for m in _sent(out) if isinstance(m, AppendResponse)] == []  # not acknowledged
    assert {type(m) for m in _sent(out)} == {RecoveryRequest}  # asking again, with the same nonce
    node.step(RecoveryResponse("a", 3, nonce, False, 1), 4)
    node.step(RecoveryResponse("c", 3, nonce, True, 1), 5)
    node.step(AppendRequest("c", 3, 0, 0, (Entry(1, 3),), 1), 6)
    assert not node.recovering and node.voted_for == "c"


def test_the_recovering_flag_is_durable_and_a_restart_asks_again_with_a_new_nonce() -> None:
    h = Harness(seed=21)
    h.run(400)
    leader = h.leader()
    victim = next(i for i in IDS if i != leader.id)
    other = next(i for i in IDS if i not in (leader.id, victim))
    h.cut = {other}  # the victim cannot hear from every peer: it stays recovering
    h.lose_log(victim)
    old_nonce = h.nodes[victim]._recovery_nonce
    h.run(1000)
    assert h.nodes[victim].recovering and h.disk[victim].hard_state.recovering
    h.restart(victim)
    assert h.nodes[victim].recovering and h.nodes[victim]._recovery_nonce != old_nonce
    h.cut = set()
    h.run(600)
    assert not h.nodes[victim].recovering and not h.disk[victim].hard_state.recovering


def test_a_committed_entry_survives_when_its_second_copy_is_lost_and_its_first_holder_dies() -> None:
    # The motivating case: x is committed on {A, B} only (C cut off). B loses its log,
    # A dies. If B voted, C (without x) could win; instead nobody wins until A is back.
    h = Harness(seed=5)
    h.run(400)
    a = h.leader().id
    b, c = [i for i in IDS if i != a]
    h.cut = {c}
    h.propose(b"x")
    h.run(50)
    assert b"x" in payloads(h.applied[a]) and h.disk[b].entries[-1].payload == b"x"
    h.lose_log(b)
    h.cut = {a}  # A dies
    h.run(3000)
    assert [n.id for n in h.nodes.values() if n.role is Role.LEADER and n.id != a] == []
    assert h.nodes[b].recovering and h.nodes[b].voted_for is None
    h.cut = set()  # A is back
    h.run(1000)
    assert h.leader().id == a or b"x" in [e.payload for e in h.leader().log.entries_from(1)]
    assert not h.nodes[b].recovering
    h.propose(b"y")
    h.run(200)
    for i in IDS:
        assert [e.payload for e in h.nodes[i].log.entries_from(1) if not e.noop] == [b"x", b"y"], i


def test_with_two_lost_logs_nothing_commits_and_nobody_is_elected() -> None:
    h = Harness(seed=9)
    h.run(400)
    leader = h.leader()
    h.propose(b"before")
    h.run(100)
    for i in IDS:
        if i != leader.id:
            h.lose_log(i)
    commit, term = leader.commit, leader.term
    h.handle(leader.id, leader.propose(b"after", h.now))
    h.run(3000)
    assert all(n.commit <= commit for n in h.nodes.values())
    assert all(n.recovering for n in h.nodes.values() if n is not leader)
    assert all(n.role is not Role.LEADER for n in h.nodes.values())  # CheckQuorum deposed it
    assert leader.term == term  # and its pre-votes never win


def test_a_leader_backs_off_below_match_when_the_follower_reports_a_shorter_log() -> None:
    pr = Progress(match=40, next=41, probing=False)
    assert pr.on_reject(reject_index=40, hint_index=0)  # the follower's log is empty now
    assert (pr.match, pr.next) == (0, 1)
    pr.on_success(12)
    assert not pr.on_reject(reject_index=5, hint_index=0)  # a reply older than match 12: ignored
    assert pr.match == 12
