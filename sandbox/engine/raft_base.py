"""The state of a Raft node and the plumbing every part of the protocol shares.

``RaftBase`` holds a node's term, vote, log, commit and applied indexes, its role
and timers, and the output queue: the concerns are in ``raft_election`` (pre-vote,
votes, the leader lease), ``raft_replication`` (becoming leader, AppendRequest and
snapshots on both sides, commit) and ``raft_recovery`` (a node that lost its log);
``raft.RaftNode`` puts them together behind the inputs.

Invariants kept here:
* A ``Send`` never leaves before the hard state and the entries queued before it:
  ``_send`` flushes the pending ``Persist`` first (the runtime makes it durable
  before sending).
* The hard state (term, vote, recovering) in every flushed ``Persist`` is current.
* Time is only what the inputs said (``_now``, monotonic) and randomness only
  ``self._rng``: the same inputs give the same outputs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .raft_log import PendingPersist, Progress, RaftLog
from .raft_messages import (
    Action,
    Entry,
    HardState,
    Message,
    PersistentState,
    RecoveryResponse,
    Role,
    RoleChanged,
    Send,
    Snapshot,
)


@dataclass(frozen=True)
class RaftConfig:
    election_timeout_min_ms: int = 300  # ms, 10..60000: silence a follower tolerates before campaigning
    election_timeout_max_ms: int = 600  # ms, > min: timeouts are drawn uniformly from [min, max)
    heartbeat_interval_ms: int = 100  # ms, 1..min/2: how often a leader asserts itself
    max_append_entries: int = 64  # entries per AppendRequest, 1..100000
    pre_vote: bool = True  # run a pre-election first so a rejoining node cannot bump the term
    check_quorum: bool = True  # a leader that has not heard from a majority for min timeout steps down


class NotLeaderError(Exception):
    """propose() on a node that is not the leader; `leader` is the best guess or None."""

    def __init__(self, leader: str | None) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class RaftBase:
    """A Raft node's state and output queue; the protocol's parts extend it."""

    def __init__(
        self,
        node_id: str,
        peers: list[str] | tuple[str, ...],
        config: RaftConfig,
        rng: random.Random,
        state: PersistentState | None = None,
    ) -> None:
        state = state or PersistentState()
        self.id = node_id
        self.peers = tuple(p for p in peers if p != node_id)
        self.config = config
        self._rng = rng
        self.term = state.hard_state.term
        self.voted_for = state.hard_state.voted_for
        self.log = RaftLog(state.snapshot, state.entries)
        self.commit = self.applied = self.log.base_index
        self.durable_index = self.log.last_index  # what was loaded from disk is durable
        self.role = Role.FOLLOWER
        self.leader_id: str | None = None
        self._now = 0
        self._election_deadline: int | None = None
        self._heartbeat_due = 0
        self._quorum_due = 0
        self._last_leader_contact = -(10**12)
        self._votes: dict[str, bool] = {}
        self._progress: dict[str, Progress] = {}
        self._out: list[Action] = []
        self._pending = PendingPersist(state.hard_state)
        # Recovery of a lost log (raft_recovery); durable: hard_state.recovering.
        self.recovering = state.hard_state.recovering
        self._recovery_nonce = rng.getrandbits(62) if self.recovering else 0  # one per incarnation
        self._recovery_replies: dict[str, RecoveryResponse] = {}  # phase 1: best answer per peer
        self._recovery_target: int | None = None  # phase 2: commit needed before voting again
        self._recovery_due = 0  # phase 1: when to ask the peers again

    # -- helpers ------------------------------------------------------------------------

    def _majority(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    def next_tick_due(self) -> int:
        """The earliest virtual time at which tick() could do anything (for simulators)."""
        if self._election_deadline is None:
            return self._now
        if self.role is Role.LEADER:
            return min(self._heartbeat_due, self._quorum_due if self.config.check_quorum else 1 << 62)
        if self.recovering and self._recovery_target is None:
            return self._recovery_due
        return self._election_deadline

    # -- output plumbing -----------------------------------------------------------------

    def _persist(
        self, entries: tuple[Entry, ...] = (), truncate_from: int | None = None, snapshot: Snapshot | None = None
    ) -> None:
        if snapshot is not None:
            self._flush()  # the on-disk order is snapshot, truncation, entries: keep earlier ones first
        self._pending.add(entries, truncate_from, snapshot)

    def _flush(self) -> None:
        p = self._pending.take(HardState(self.term, self.voted_for, self.recovering))
        if p is not None:
            self._out.append(p)

    def _send(self, to: str, message: Message) -> None:
        self._flush()
        self._out.append(Send(to, message))

    def _emit(self, action: Action) -> None:
        self._out.append(action)  # only Sends wait for durability; other actions need no flush

    def _take(self) -> list[Action]:
        self._flush()
        out, self._out = self._out, []
        return out

    def _hard_state_changed(self) -> None:
        self._persist()  # the flushed Persist always carries the current hard state

    # -- role transitions ----------------------------------------------------------------

    def _reset_election_timer(self) -> None:
        c = self.config
        self._election_deadline = self._now + self._rng.randrange(c.election_timeout_min_ms, c.election_timeout_max_ms)

    def _become_follower(self, term: int, leader: str | None) -> None:
        changed = term != self.term or self.role is not Role.FOLLOWER or leader != self.leader_id
        if term > self.term:
            self.term, self.voted_for = term, None
            self._hard_state_changed()
        self.role, self.leader_id = Role.FOLLOWER, leader
        self._progress.clear()
        self._reset_election_timer()
        if changed:
            self._emit(RoleChanged(self.role, self.term, leader))

    def _become_leader(self) -> None:
        """Won an election (``raft_replication.LogReplication`` does it)."""
        raise NotImplementedError
