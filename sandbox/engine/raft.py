"""Raft consensus as a pure state machine (etcd-raft style) for the journal.

``RaftNode`` takes inputs -- ``tick(now)``, ``step(message, now)``,
``propose(payload, now)``, ``persisted(index, term)``, ``compact(index, data)``,
``campaign(now)`` -- and returns a list of actions (see raft_messages): ``Send``,
``Persist``, ``Apply``, ``RestoreSnapshot``, ``RoleChanged``, ``Proposed``. It never
reads a clock, sleeps, draws from a global RNG or does I/O, so the seeded simulator
and the real journal process run exactly the same code.

Runtime contract: perform actions in order; a ``Send`` must not leave before every
``Persist`` returned before it is durable (fsynced) -- a runtime may batch many
inputs and fsync once (group commit); after an fsync report
``persisted(last_index, last_term)`` of the durable log. One allowed exception
(Raft paper §10.2.1): a leader's ``AppendRequest`` may leave before the leader's own
write is durable, because the leader counts its own copy only after ``persisted``.

Invariants (the simulator checks them on every step):

* At most one leader per term: a node votes at most once per term, and its vote is
  durable before the vote is sent.
* A leader only appends to its log; a follower truncates only on a real conflict and
  never below its commit index (it raises ``AssertionError`` rather than do so).
* An entry is committed only if it is from the leader's current term and a majority
  of nodes have it *durably* -- the leader's own copy counts only after
  ``persisted``. A new leader appends a no-op so earlier-term entries get committed.
* ``Apply`` delivers committed entries in index order, each exactly once.
* PreVote plus a leader lease (CheckQuorum) keep a partitioned node that rejoins from
  bumping terms and deposing a healthy leader.
* A node recovering a lost log never campaigns and grants no vote or pre-vote until
  it provably holds every entry it could have lost (``raft_recovery``).

The parts: ``raft_base`` (state, timers, output plumbing), ``raft_election``,
``raft_replication``, ``raft_recovery``; this module is the node's inputs.
"""

from __future__ import annotations

from .raft_base import NotLeaderError, RaftConfig  # noqa: F401 -- part of the vocabulary
from .raft_election import Elections
from .raft_messages import (  # re-exported: callers import the whole vocabulary from raft
    Action,
    AppendRequest,
    AppendResponse,
    Apply,
    Entry,
    HardState,
    Message,
    Persist,
    PersistentState,
    Proposed,
    Recovered,
    RecoveryRequest,
    RecoveryResponse,
    RestoreSnapshot,
    Role,
    RoleChanged,
    Send,
    Snapshot,
    SnapshotRequest,
    VoteRequest,
    VoteResponse,
)
from .raft_recovery import LostLogRecovery
from .raft_replication import LogReplication


class RaftNode(LostLogRecovery, Elections, LogReplication):
    """One member of a Raft group: inputs in, actions out (see the module docstring)."""

    def tick(self, now_ms: int) -> list[Action]:
        self._now = max(self._now, now_ms)
        if self._election_deadline is None:
            self._reset_election_timer()
        if self.role is Role.LEADER:
            if self.config.check_quorum and self._now >= self._quorum_due:
                active = 1 + sum(1 for pr in self._progress.values() if pr.active)
                if active < self._majority():
                    self._become_follower(self.term, None)
                    return self._take()
                for pr in self._progress.values():
                    pr.active = False
                self._quorum_due = self._now + self.config.election_timeout_min_ms
            if self._now >= self._heartbeat_due:
                self._broadcast()
        elif self.recovering:
            self._recovery_tick()
        elif self._now >= self._election_deadline:
            self._campaign()
        return self._take()

    def campaign(self, now_ms: int) -> list[Action]:
        """Start an election now (tests, scenarios, and a graceful hand-over).

        A recovering node does nothing: it may not campaign until it has recovered.
        """
        self._now = max(self._now, now_ms)
        if self.role is not Role.LEADER and not self.recovering:
            self._campaign()
        return self._take()

    def propose(self, payload: bytes, now_ms: int) -> list[Action]:
        """Append a command; raises NotLeaderError. Emits Proposed(index, term)."""
        self._now = max(self._now, now_ms)
        if self.role is not Role.LEADER:
            raise NotLeaderError(self.leader_id)
        entry = Entry(self.log.last_index + 1, self.term, payload)
        self.log.append((entry,))
        self._persist(entries=(entry,))
        self._emit(Proposed(entry.index, entry.term))
        for peer, pr in self._progress.items():
            if not pr.probing:
                self._send_append(peer)
        self._maybe_commit()
        return self._take()

    def persisted(self, index: int, term: int) -> list[Action]:
        """The runtime's fsync made the log durable up to (index, term)."""
        if index > self.durable_index and self.log.term_at(index) == term:
            self.durable_index = index
            if self.role is Role.LEADER:
                self._maybe_commit()
        return self._take()

    def compact(self, index: int, data: bytes) -> list[Action]:
        """Trim the log up to `index` (<= applied), replaced by the state machine snapshot."""
        if not self.log.base_index < index <= self.applied:
            raise ValueError(f"cannot compact to {index}: base {self.log.base_index}, applied {self.applied}")
        self._persist(snapshot=self.log.compact(index, data))
        return self._take()

    def step(self, message: Message, now_ms: int) -> list[Action]:
        self._now = max(self._now, now_ms)
        if self._election_deadline is None:
            self._reset_election_timer()
        m = message
        if isinstance(m, RecoveryRequest):
            if not self.recovering:  # a recovering node's knowledge has holes: it never answers
                reply = RecoveryResponse(self.id, self.term, m.nonce, self.role is Role.LEADER, self.log.last_index)
                self._send(m.frm, reply)  # our term is durable before it leaves
            return self._take()
        if isinstance(m, RecoveryResponse):
            self._on_recovery_response(m)
            return self._take()
        if self.recovering and not self._recovering_admits(m):
            return self._take()
        if m.term > self.term:
            if isinstance(m, VoteRequest):
                if self._in_lease():
                    return self._take()  # a leader is alive: ignore the would-be disrupter
                if not m.pre_vote:
                    self._become_follower(m.term, None)
            elif isinstance(m, VoteResponse) and m.pre_vote and m.granted:
                pass  # granted pre-votes carry the term we would campaign in
            else:
                leader = m.frm if isinstance(m, (AppendRequest, SnapshotRequest)) else None
                self._become_follower(m.term, leader)
        elif m.term < self.term:
            if isinstance(m, (AppendRequest, SnapshotRequest)):
                self._send(m.frm, AppendResponse(self.id, self.term, False))  # depose a stale leader
            elif isinstance(m, VoteRequest) and m.pre_vote:
                self._send(m.frm, VoteResponse(self.id, self.term, False, pre_vote=True))
            return self._take()
        if isinstance(m, VoteRequest):
            self._on_vote_request(m)
        elif isinstance(m, VoteResponse):
            self._on_vote_response(m)
        elif isinstance(m, AppendRequest):
            self._on_append(m)
        elif isinstance(m, SnapshotRequest):
            self._on_snapshot(m)
        elif isinstance(m, AppendResponse):
            self._on_append_response(m)
        if self.recovering:
            self._maybe_finish_recovery()
        return self._take()
