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
  it provably holds every entry it could have lost (below).

Recovering a lost log
---------------------

A node whose log file turns out corrupt (a bad record in the middle: not a torn
tail, which only ever holds unsynced bytes) has lost fsynced entries *and* its
term and vote. Its runtime moves the file aside and starts the node from
``HardState(recovering=True)`` with an empty log, written durably before the node
runs. It must not rejoin as a plain empty follower:

1. It may have been in the majority that committed an entry. If it votes without
   it, a candidate that lacks the entry can win: committed on {A, B}, B loses it,
   A dies, B and C elect C -- the committed entry is gone.
2. It may have voted in a term. Having forgotten, it could vote again in that term
   for someone else: two leaders in one term.
3. It cannot simply take "the current term" from the first leader it hears: that
   leader may be stale (a newer term was won with B's lost vote). Acknowledging a
   stale leader's entries could let it commit over entries that the newer leader
   committed with B's lost copy.

So a recovering node (``recovering`` is durable and survives restarts):

* never campaigns, and answers every VoteRequest and pre-vote with a refusal
  without taking the candidate's term;
* *asking* (phase 1): every heartbeat interval it sends ``RecoveryRequest(nonce)``
  to every peer, the nonce drawn afresh by each incarnation; healthy nodes answer
  ``RecoveryResponse(term, leader?, last_index)``; recovering nodes do not answer.
  It ignores AppendRequest and SnapshotRequest, so it acknowledges nothing a stale
  leader could count. It moves on once it holds an answer with its nonce from
  *every* peer and the highest term among them, T, was reported by the leader of T,
  L: it adopts T (durably), follows L, and sets ``target`` = L's last index;
* *catching up* (phase 2): it handles AppendRequest and SnapshotRequest as any
  follower does, and its acknowledgements count (its term is now >= every term
  its lost state took part in, so no stale leader can use them). Seeing a newer
  term, or an election timeout without its leader, sends it back to phase 1: a new
  leader's log may end before ``target`` and a quiet cluster would never commit it;
* *done* once ``commit >= target``: it durably records ``recovering = False``
  together with a vote for the leader it follows in its current term, and emits
  ``Recovered``. From then on it is an ordinary node.

Why that is enough:

* Every term in which the lost state acted (a vote it granted, an entry it
  acknowledged, an election it helped win) is known, durably, to the other members
  of that quorum: the candidate persisted its term before asking, the leader before
  sending. With answers from every peer (for three zones: both others; that they
  came after this incarnation started is what the nonce proves), T is at least
  every such term. (In a larger group f+1 answers would do for commits, but not
  for votes: a candidate still collecting votes, our lost one among them, may be
  the only node that knows its term yet.)
* An entry committed with the lost copy has a term <= T, so L has it -- by Leader
  Completeness, or because L itself wrote it before the node restarted -- at an
  index <= ``target``. ``commit >= target`` means the node's log holds the
  committed entry at that index.
* Votes: once done, its term is >= T >= every term it may have voted in, and for
  its current term it has recorded the leader it follows, so it refuses everybody
  else there.
* Restarting mid-recovery resumes phase 1 with a new nonce; answers to an earlier
  incarnation are ignored, since they may predate acknowledgements it gave since.
* Two lost logs at once: neither can finish phase 1 (recovering nodes do not
  answer), neither votes, and phase-1 nodes acknowledge nothing, so with one healthy
  node left no leader can be elected and nothing can commit: the group stays
  unavailable rather than make progress that could contradict a lost commit.

What this does not cover: a disk that silently returns wrong data (passes the CRC),
or a replica whose data directory was wiped -- an empty log with no recovering
flag looks like a new node; such a replica must be started with the flag set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .raft_log import PendingPersist, Progress, RaftLog, quorum_index
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


class RaftNode:
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
        # Recovery of a lost log (see the module docstring); durable: hard_state.recovering.
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

    def _start_pre_vote(self) -> None:
        self.role, self.leader_id = Role.PRE_CANDIDATE, None
        self._votes = {self.id: True}
        self._reset_election_timer()
        self._emit(RoleChanged(self.role, self.term, None))
        for peer in self.peers:
            self._send(peer, VoteRequest(self.id, self.term + 1, self.log.last_index, self.log.last_term, pre_vote=True))
        self._count_votes()

    def _start_election(self) -> None:
        self.term += 1
        self.voted_for = self.id
        self._hard_state_changed()
        self.role, self.leader_id = Role.CANDIDATE, None
        self._votes = {self.id: True}
        self._reset_election_timer()
        self._emit(RoleChanged(self.role, self.term, None))
        for peer in self.peers:
            self._send(peer, VoteRequest(self.id, self.term, self.log.last_index, self.log.last_term))
        self._count_votes()

    def _count_votes(self) -> None:
        granted = sum(1 for v in self._votes.values() if v)
        if granted >= self._majority():
            if self.role is Role.PRE_CANDIDATE:
                self._start_election()
            else:
                self._become_leader()
        elif len(self._votes) - granted >= self._majority():
            self._become_follower(self.term, None)

    def _become_leader(self) -> None:
        self.role, self.leader_id = Role.LEADER, self.id
        self._progress = {p: Progress(match=0, next=self.log.last_index + 1) for p in self.peers}
        self._emit(RoleChanged(self.role, self.term, self.id))
        # The no-op lets this leader commit entries of earlier terms (Raft §5.4.2) and
        # learn the commit index promptly (Jepsen redis-raft #18).
        noop = Entry(self.log.last_index + 1, self.term, b"", noop=True)
        self.log.append((noop,))
        self._persist(entries=(noop,))
        self._quorum_due = self._now + self.config.election_timeout_min_ms
        self._broadcast()
        self._maybe_commit()

    # -- inputs ----------------------------------------------------------------------------

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

    def _campaign(self) -> None:
        if self.config.pre_vote:
            self._start_pre_vote()
        else:
            self._start_election()

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

    # -- recovery of a lost log (design in the module docstring) ------------------------------

    def _recovery_tick(self) -> None:
        if self._recovery_target is not None:  # catching up
            if self._now >= self._election_deadline:
                self._restart_recovery()  # our leader went quiet: find out who leads now
        elif self._now >= self._recovery_due:
            self._ask_peers()

    def _ask_peers(self) -> None:
        self._recovery_due = self._now + self.config.heartbeat_interval_ms
        for peer in self.peers:
            self._send(peer, RecoveryRequest(self.id, self._recovery_nonce))

    def _restart_recovery(self) -> None:
        self._recovery_target = None
        self._recovery_replies.clear()
        self._ask_peers()

    def _recovering_admits(self, m: Message) -> bool:
        """Whether a recovering node handles `m` the normal way (after any reply of its own)."""
        if isinstance(m, VoteRequest):
            # Refuse, and do not take the candidate's term: we may have voted in it.
            self._send(m.frm, VoteResponse(self.id, self.term, False, pre_vote=m.pre_vote))
            return False
        if isinstance(m, (AppendRequest, SnapshotRequest)):
            if self._recovery_target is None:
                return False  # asking: the sender may be a stale leader; acknowledge nothing
            if m.term > self.term:
                self._become_follower(m.term, None)  # keep the newer term (durably) and ask again:
                self._restart_recovery()  # the new leader's log may end before our target
                return False
            return True
        return False  # responses to votes or appends: a recovering node never asked for any

    def _on_recovery_response(self, m: RecoveryResponse) -> None:
        if not self.recovering or self._recovery_target is not None or m.nonce != self._recovery_nonce:
            return
        if m.frm not in self.peers:
            return
        best = self._recovery_replies.get(m.frm)
        if best is None or (m.term, m.leader) >= (best.term, best.leader):
            self._recovery_replies[m.frm] = m
        if len(self._recovery_replies) < len(self.peers):
            return  # every peer: a term we acted in may be known to only one of them
        top = max(r.term for r in self._recovery_replies.values())
        lead = next((r for r in self._recovery_replies.values() if r.term == top and r.leader), None)
        if lead is None or top < self.term:
            return  # nobody leads the newest term yet: keep asking
        self._recovery_target = lead.last_index
        self._become_follower(top, lead.frm)
        self._maybe_finish_recovery()

    def _maybe_finish_recovery(self) -> None:
        target = self._recovery_target
        if target is None or self.commit < target or self.leader_id is None:
            return
        self.recovering = False
        self.voted_for = self.leader_id  # we may have voted in this term before: only for its leader now
        self._recovery_target = None
        self._recovery_replies.clear()
        self._hard_state_changed()
        self._emit(Recovered(self.term, self.commit))

    # -- elections -------------------------------------------------------------------------

    def _in_lease(self) -> bool:
        if not self.config.check_quorum or self.leader_id is None:
            return False
        if self.role is Role.LEADER:
            return True  # CheckQuorum deposes us if we have lost the majority
        return self._now - self._last_leader_contact < self.config.election_timeout_min_ms

    def _on_vote_request(self, m: VoteRequest) -> None:
        up_to_date = (m.last_term, m.last_index) >= (self.log.last_term, self.log.last_index)
        if m.pre_vote:
            grant = m.term > self.term and up_to_date
            self._send(m.frm, VoteResponse(self.id, m.term if grant else self.term, grant, pre_vote=True))
            return
        can_vote = self.voted_for == m.frm or (self.voted_for is None and self.leader_id is None)
        grant = can_vote and up_to_date
        if grant and self.voted_for is None:
            self.voted_for = m.frm
            self._hard_state_changed()  # flushed before the Send below: durable first
            self._reset_election_timer()
        self._send(m.frm, VoteResponse(self.id, self.term, grant))

    def _on_vote_response(self, m: VoteResponse) -> None:
        if m.pre_vote:
            if self.role is not Role.PRE_CANDIDATE or m.term != self.term + 1:
                return
        elif self.role is not Role.CANDIDATE or m.term != self.term:
            return
        self._votes.setdefault(m.frm, m.granted)
        self._count_votes()

    # -- replication: follower side ----------------------------------------------------------

    def _heard_from_leader(self, leader: str) -> None:
        assert self.role is not Role.LEADER, f"{self.id}: two leaders in term {self.term} ({leader})"
        if self.role is not Role.FOLLOWER or self.leader_id != leader:
            self._become_follower(self.term, leader)
        else:
            self._reset_election_timer()
        self._last_leader_contact = self._now

    def _on_append(self, m: AppendRequest) -> None:
        self._heard_from_leader(m.frm)
        prev_index, prev_term, entries = m.prev_index, m.prev_term, m.entries
        if prev_index < self.commit:
            # Entries up to our commit index are committed, so they match the leader's.
            entries = tuple(e for e in entries if e.index > self.commit)
            prev_index = self.commit
            prev_term = self.log.term_at(prev_index)  # type: ignore[assignment]
        if self.log.term_at(prev_index) != prev_term:
            self._send(m.frm, AppendResponse(self.id, self.term, False, 0, m.prev_index, self.log.conflict_hint(prev_index, self.commit)))
            return
        new: list[Entry] = []
        for e in entries:
            if new:
                new.append(e)
                continue
            have = self.log.term_at(e.index)
            if have == e.term:
                continue
            if have is not None:  # a conflict: drop our entry and everything after it
                assert e.index > self.commit, f"{self.id}: truncating committed entry {e.index}"
                self.log.truncate_from(e.index)
                self.durable_index = min(self.durable_index, e.index - 1)
                self._persist(truncate_from=e.index)
            new.append(e)
        if new:
            self.log.append(new)
            self._persist(entries=tuple(new))
        match = prev_index + len(entries)
        if m.commit > self.commit:
            self.commit = max(self.commit, min(m.commit, match))
        self._send(m.frm, AppendResponse(self.id, self.term, True, match_index=match))
        self._apply_committed()

    def _on_snapshot(self, m: SnapshotRequest) -> None:
        self._heard_from_leader(m.frm)
        s = m.snapshot
        if s.index <= self.commit:
            self._send(m.frm, AppendResponse(self.id, self.term, True, match_index=self.commit))
            return
        if self.log.install(s):
            self._persist(snapshot=s)  # our log goes on past it and matches: keep that part
        else:
            self.durable_index = min(self.durable_index, s.index)
            self._persist(snapshot=s, truncate_from=s.index + 1)
        self.commit = self.applied = s.index
        self._emit(RestoreSnapshot(s))
        self._send(m.frm, AppendResponse(self.id, self.term, True, match_index=s.index))

    def _apply_committed(self) -> None:
        if self.commit > self.applied:
            entries = tuple(self.log.entries_from(self.applied + 1, self.commit - self.applied))
            assert entries and entries[0].index == self.applied + 1 and entries[-1].index == self.commit
            self.applied = self.commit
            self._emit(Apply(entries))

    # -- replication: leader side -------------------------------------------------------------

    def _broadcast(self) -> None:
        self._heartbeat_due = self._now + self.config.heartbeat_interval_ms
        for peer, pr in self._progress.items():
            pr.paused = False
            self._send_append(peer)

    def _send_append(self, peer: str) -> None:
        pr = self._progress[peer]
        if pr.paused:
            return
        if pr.next <= self.log.base_index:
            assert self.log.snapshot is not None
            self._send(peer, SnapshotRequest(self.id, self.term, self.log.snapshot))
            pr.on_sent(None, snapshot=True)
            return
        prev = pr.next - 1
        prev_term = self.log.term_at(prev)
        assert prev_term is not None
        entries = tuple(self.log.entries_from(pr.next, self.config.max_append_entries))
        self._send(peer, AppendRequest(self.id, self.term, prev, prev_term, entries, self.commit))
        pr.on_sent(entries[-1].index if entries else None)

    def _on_append_response(self, m: AppendResponse) -> None:
        if self.role is not Role.LEADER or m.frm not in self._progress:
            return
        pr = self._progress[m.frm]
        pr.active = True
        if m.success:
            pr.on_success(m.match_index)
            self._maybe_commit()
            if pr.next <= self.log.last_index:
                self._send_append(m.frm)
            return
        if pr.on_reject(m.reject_index, m.hint_index):
            self._send_append(m.frm)

    def _maybe_commit(self) -> None:
        if self.role is not Role.LEADER:
            return
        own = min(self.durable_index, self.log.last_index)  # our copy counts once it is durable
        candidate = quorum_index([own] + [pr.match for pr in self._progress.values()], self._majority())
        # Only entries of the current term are committed by counting (Raft §5.4.2).
        if candidate > self.commit and self.log.term_at(candidate) == self.term:
            self.commit = candidate
            self._apply_committed()

