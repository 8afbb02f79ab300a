"""Raft log replication: a new leader's no-op, AppendRequest and snapshots on the
follower's side, progress and commit on the leader's.

Invariants:
* A leader only appends to its log; a follower truncates only on a real conflict
  and never below its commit index (it raises ``AssertionError`` rather than do so).
* An entry is committed only if it is from the leader's current term and a
  majority holds it *durably*: the leader's own copy counts only after
  ``persisted`` (Raft §5.4.2; a new leader's no-op commits earlier terms' entries).
* ``Apply`` delivers committed entries in index order, each exactly once.
* A follower behind the leader's compacted log gets the snapshot instead
  (``RestoreSnapshot``), and keeps any part of its log that goes on past it.
"""

from __future__ import annotations

from .raft_base import RaftBase
from .raft_log import Progress, quorum_index
from .raft_messages import (
    AppendRequest,
    AppendResponse,
    Apply,
    Entry,
    RestoreSnapshot,
    Role,
    RoleChanged,
    SnapshotRequest,
)


class LogReplication(RaftBase):
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
