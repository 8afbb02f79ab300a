"""Raft: recovering a lost log, so a node whose log was corrupt rejoins safely.

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

from .raft_base import RaftBase
from .raft_messages import (
    AppendRequest,
    Message,
    Recovered,
    RecoveryRequest,
    RecoveryResponse,
    SnapshotRequest,
    VoteRequest,
    VoteResponse,
)


class LostLogRecovery(RaftBase):
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
