"""Raft's in-memory log and a leader's view of each follower (split out of raft.py).

``RaftLog`` is a snapshot (the compacted prefix: index and term of its last entry)
followed by the entries after it. ``Progress`` is what a leader knows about one
follower's log. ``PendingPersist`` folds the durable changes made between two Sends
into one ``Persist`` action (one disk write).

Invariants:

* Entries are contiguous: ``entries[k].index == base_index + 1 + k``.
* ``term_at(i)`` is known exactly for ``base_index <= i <= last_index``; entries
  before the base exist only inside the snapshot.
* Stale or reordered replies never move a follower's ``Progress.match`` back, and
  ``next > match`` always. ``match`` goes down only when the follower itself says its
  log ends before it (a rejection whose hint is below ``match``): a follower that
  lost its log and is recovering (raft_recovery.py), or a conflict hint that walked back over
  a run of one term. Believing it is always safe -- a lower ``match`` only counts
  fewer copies toward a commit and resends entries -- and without it the leader
  would keep probing above a log that is no longer there.
"""

from __future__ import annotations

from dataclasses import dataclass

from .raft_messages import Entry, HardState, Persist, Snapshot


class RaftLog:
    def __init__(self, snapshot: Snapshot | None, entries: list[Entry]) -> None:
        self.snapshot = snapshot
        self._entries = list(entries)

    @property
    def base_index(self) -> int:
        return self.snapshot.index if self.snapshot else 0

    @property
    def base_term(self) -> int:
        return self.snapshot.term if self.snapshot else 0

    @property
    def last_index(self) -> int:
        return self._entries[-1].index if self._entries else self.base_index

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.base_term

    def term_at(self, index: int) -> int | None:
        """Term of the entry at `index`, or None if it is compacted or beyond the log."""
        if index == self.base_index:
            return self.base_term
        if self.base_index < index <= self.last_index:
            return self._entries[index - self.base_index - 1].term
        return None

    def entries_from(self, index: int, limit: int = 1 << 30) -> list[Entry]:
        start = max(index, self.base_index + 1) - self.base_index - 1
        return self._entries[start : start + limit]

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        if entries and entries[0].index != self.last_index + 1:
            raise ValueError(f"entry {entries[0].index} does not follow {self.last_index}")
        self._entries.extend(entries)

    def truncate_from(self, index: int) -> None:
        """Drop the entry at `index` and every later one."""
        del self._entries[max(0, index - self.base_index - 1) :]

    def conflict_hint(self, prev_index: int, floor: int) -> int:
        """Where a leader should probe after our log did not match at prev_index.

        Skips our whole conflicting term at once (Raft §5.3 optimisation), never
        below `floor` (the commit index: everything up to it matches the leader).
        """
        if prev_index > self.last_index:
            return self.last_index
        conflict_term = self.term_at(prev_index)
        i = prev_index
        while i - 1 > floor and self.term_at(i - 1) == conflict_term:
            i -= 1
        return max(i - 1, floor)

    def compact(self, index: int, data: bytes) -> Snapshot:
        """Replace entries up to `index` with a snapshot of the state machine there."""
        term = self.term_at(index)
        if term is None or index <= self.base_index:
            raise ValueError(f"cannot compact to {index}: log is {self.base_index}..{self.last_index}")
        self._entries = self.entries_from(index + 1)
        self.snapshot = Snapshot(index, term, data)
        return self.snapshot

    def install(self, snapshot: Snapshot) -> bool:
        """Adopt a leader's snapshot; True if our entries after it were kept (they match)."""
        keep = self.term_at(snapshot.index) == snapshot.term
        self._entries = self.entries_from(snapshot.index + 1) if keep else []
        self.snapshot = snapshot
        return keep


@dataclass
class Progress:
    """What a leader knows about one follower's log."""

    match: int = 0  # highest index known to be replicated (and durable) on the follower
    next: int = 1  # next index to send
    probing: bool = True  # True: one message at a time until we find where the logs match
    paused: bool = False  # probing and a probe is outstanding; resent on the next heartbeat
    active: bool = False  # heard from since the last quorum check

    def on_success(self, match_index: int) -> None:
        self.match = max(self.match, match_index)
        self.next = max(self.next, self.match + 1)
        self.probing = self.paused = False

    def on_reject(self, reject_index: int, hint_index: int) -> bool:
        """Back off after a mismatch; False if the reply was stale and ignored."""
        if reject_index < self.match:
            return False  # a reply to a probe we have since moved past
        if hint_index < self.match:
            self.match = hint_index  # its log ends before what it once acknowledged (lost, recovering)
        self.next = max(self.match + 1, min(self.next - 1, hint_index + 1))
        self.probing, self.paused = True, False
        return True

    def on_sent(self, last_index: int | None, snapshot: bool = False) -> None:
        """An AppendRequest ending at last_index (None: no entries) or a snapshot went out."""
        if snapshot:
            self.probing = self.paused = True
        elif self.probing:
            self.paused = True
        elif last_index is not None:
            self.next = last_index + 1  # optimistic: a lost message shows up as a reject


def quorum_index(matches: list[int], majority: int) -> int:
    """The highest index that at least `majority` of the given match indexes reach."""
    return sorted(matches)[len(matches) - majority]


class PendingPersist:
    """The Persist being built; flushed (emitted) before the next Send."""

    def __init__(self, hard_state: HardState) -> None:
        self._p = Persist()
        self._dirty = False
        self._flushed_hard_state = hard_state

    def add(
        self, entries: tuple[Entry, ...] = (), truncate_from: int | None = None, snapshot: Snapshot | None = None
    ) -> None:
        """Fold in a change. A snapshot must only be added right after a take()."""
        p = self._p
        kept, trunc = p.entries, p.truncate_from
        if truncate_from is not None:
            trunc = truncate_from if trunc is None else min(trunc, truncate_from)
            kept = tuple(e for e in kept if e.index < truncate_from)
        self._p = Persist(None, kept + entries, trunc, snapshot or p.snapshot)
        self._dirty = True

    def take(self, hard_state: HardState) -> Persist | None:
        """The accumulated Persist (hard state only if it changed), or None if nothing to write."""
        if not self._dirty:
            return None
        p, self._p, self._dirty = self._p, Persist(), False
        changed = hard_state if hard_state != self._flushed_hard_state else None
        self._flushed_hard_state = hard_state
        if changed is None and not p.entries and p.truncate_from is None and p.snapshot is None:
            return None
        return Persist(changed, p.entries, p.truncate_from, p.snapshot)
