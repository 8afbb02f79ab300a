"""Raft elections: pre-vote, votes, and the leader lease that keeps a rejoining
node from deposing a healthy leader (etcd's PreVote and CheckQuorum).

Invariants:
* A node votes at most once per term, and its vote is in the hard state flushed
  before the ``VoteResponse`` leaves (durable before it is sent).
* A vote goes only to a candidate whose log is at least as up to date as ours
  (last term, then last index): a leader holds every committed entry.
* A pre-vote changes no state: a partitioned node that rejoins asks first and
  bumps the term only if a majority would vote for it.
* While a follower heard from its leader within the minimum election timeout
  (or this node leads), vote requests of a higher term are ignored.
"""

from __future__ import annotations

from .raft_base import RaftBase
from .raft_messages import Role, RoleChanged, VoteRequest, VoteResponse


class Elections(RaftBase):
    def _campaign(self) -> None:
        if self.config.pre_vote:
            self._start_pre_vote()
        else:
            self._start_election()

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
