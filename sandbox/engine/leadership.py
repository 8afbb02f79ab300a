"""Shard leadership as a pure state machine: who may acknowledge writes for a shard.

``ShardLeadership.step(event, now_ms) -> [action, ...]`` is the whole protocol; it
has no clock, no I/O and no asyncio, and its one random choice (the claim token)
comes from an injected ``random.Random``. ``durable.py`` drives it in real
processes (journal reads and appends, timers, replies held until commit); the
seeded simulator in ``tests/engine/sim`` drives the same class under faults.

Roles:

* **replica** (every node starts as one, a restarted node too) — applies the
  shard's committed stream. It asks the journal who leads (``LeaderAsked``) before
  it may campaign. It counts *silence* from the last primary activity it applied
  (a ``data``, ``lease`` or ``leader`` entry). After ``campaign_after_ms`` of
  silence (strictly longer than a lease; ``first_campaign_after_ms`` when the shard
  never had an entry, at once for ``prefer_primary``), and only when it has applied
  the latest entry it knows of, it claims leadership: a conditional append of a
  ``leader`` entry right after the entry it applied, carrying a fresh claim token.
  The journal lets exactly one such append succeed.
* **candidate** — its claim is in flight; it does not claim again.
* **primary** — its lease runs ``lease_ms`` from when it *sent* an append that
  committed (the claim first, then any data or lease entry): a replica counts its
  silence only from when it applied such an entry, so it cannot claim before the
  lease has surely ended. An idle primary appends a ``lease`` entry every
  ``renew_every_ms``; a busy one renews with its data. A write's reply is released
  (``Acknowledge``) only when its append committed. A primary that cannot renew
  stops serving when its lease ends and serves again only under a renewed lease.
* **fenced** — a conditional append of a primary was refused (another node claimed
  the shard): its pending replies fail (never acknowledged) and the node exits, to
  come back as a replica. Terminal.

Invariants (checked by the simulator after every event): at most one node of a
shard serves under a valid lease at any instant; no reply is released for an
append the journal did not commit at the id it names; a node never treats a
``leader`` entry it did not see its own claim win as its leadership (a restarted
node's previous incarnation wrote it, with another token).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import Union


class Role(enum.Enum):
    REPLICA = "replica"
    CANDIDATE = "candidate"
    PRIMARY = "primary"
    FENCED = "fenced"


@dataclass(frozen=True)
class LeadershipConfig:
    node_id: str  # this node's id, as leader and lease entries name it
    lease_ms: float  # ms, > 0: how long a primary may serve after sending an append that committed
    renew_every_ms: float  # ms, 0 < renew_every_ms <= lease_ms / 2: how often an idle primary renews
    campaign_after_ms: float  # ms, > lease_ms: silence before a replica claims the shard
    first_campaign_after_ms: float = 300  # ms, >= 0: silence before claiming a shard that never had a leader
    prefer_primary: bool = False  # claim a leaderless shard at once (the others wait first_campaign_after_ms)

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_ms <= self.lease_ms / 2:
            raise ValueError(f"renew_every_ms {self.renew_every_ms} must be in (0, lease_ms / 2]")
        if self.campaign_after_ms <= self.lease_ms:
            raise ValueError(f"campaign_after_ms {self.campaign_after_ms} must exceed lease_ms {self.lease_ms}")


# -- events: what the node's I/O tells the machine ------------------------------------------


@dataclass(frozen=True)
class LeaderAsked:
    """The journal answered "who leads this shard" (``JLEADER``); None: nobody yet."""

    leader: str | None


@dataclass(frozen=True)
class Restored:
    """The keyspace was replaced by a snapshot covering entries up to ``upto``."""

    upto: int


@dataclass(frozen=True)
class EntryApplied:
    """A replica applied stream entry ``entry_id``; ``leader`` names the node of a
    ``leader`` entry (``claim`` its token)."""

    entry_id: int
    kind: str  # "data", "lease", "leader" or "checksum"
    leader: str | None = None
    claim: str = ""


@dataclass(frozen=True)
class TailSeen:
    """The journal's tail for the shard is at least ``tail``."""

    tail: int


@dataclass(frozen=True)
class CaughtUp:
    """A read after the applied entry returned nothing: this node knows the tail."""


@dataclass(frozen=True)
class Tick:
    """Time passed (the node's timer)."""


@dataclass(frozen=True)
class CampaignNow:
    """Claim at once, without waiting for silence (a planned failover); a replica
    still claims only when it has applied the latest entry it knows of."""


@dataclass(frozen=True)
class ClaimWon:
    """The claim's conditional append committed at ``entry_id``."""

    entry_id: int


@dataclass(frozen=True)
class ClaimLost:
    """The claim did not commit. ``definite``: the journal refused it (another entry
    took that place); otherwise the outcome is unknown (connection lost)."""

    reason: str
    definite: bool = True


@dataclass(frozen=True)
class AppendSent:
    """The primary sent an append of ``kind``: its commit will renew the lease, so
    the next renewal is due ``renew_every_ms`` after it (a busy primary writes no
    lease entries)."""

    kind: str


@dataclass(frozen=True)
class Committed:
    """The primary's append ``entry_id``, sent at ``sent_at`` (ms), committed."""

    entry_id: int
    sent_at: float


@dataclass(frozen=True)
class Refused:
    """The journal refused a primary's conditional append (CONDFAIL, FENCED, or
    another writer's entry at the id it named): another node leads now."""

    reason: str
    entry_id: int = 0  # the id the refused append named


Event = Union[LeaderAsked, Restored, EntryApplied, TailSeen, CaughtUp, Tick, CampaignNow, ClaimWon, ClaimLost, AppendSent,
              Committed, Refused]


# -- actions: what the machine asks the node's I/O to do -----------------------------------------


@dataclass(frozen=True)
class AppendLeader:
    """Append a ``leader`` entry naming ``node`` and ``claim`` on condition that the
    stream's tail is ``after``; report ``ClaimWon`` or ``ClaimLost``."""

    after: int
    node: str
    claim: str


@dataclass(frozen=True)
class AppendLease:
    """Append a ``lease`` entry (``node``, ``lease_ms``) after the primary's tail."""

    node: str
    lease_ms: float


@dataclass(frozen=True)
class BecomePrimary:
    """Take writes from now on; the stream continues after ``entry_id``."""

    entry_id: int


@dataclass(frozen=True)
class Acknowledge:
    """Release the replies held for the append committed at ``entry_id``."""

    entry_id: int


@dataclass(frozen=True)
class StopServing:
    """The lease ended without renewal: refuse every command that touches keys."""


@dataclass(frozen=True)
class ResumeServing:
    """A renewal committed within the lease: serve again."""


@dataclass(frozen=True)
class Fence:
    """Another node leads: fail every pending reply (never acknowledged) and exit."""

    reason: str


Action = Union[AppendLeader, AppendLease, BecomePrimary, Acknowledge, StopServing, ResumeServing, Fence]


class ShardLeadership:
    """One data node's view of its shard's leadership (see the module docstring)."""

    def __init__(self, config: LeadershipConfig, rng: random.Random, now: float) -> None:
        self.config = config
        self.rng = rng
        self.role = Role.REPLICA  # a new or restarted node always starts as a replica
        self.applied = 0  # last entry id applied to this node's keyspace
        self.journal_tail = 0  # highest tail id known to exist
        self.leader: str | None = None  # the node the latest leader entry names
        self.leader_asked = False  # the journal said who leads: only then may this node claim
        self.last_activity = now  # ms: when this node last applied the primary's activity
        self.claim: str | None = None  # token of the claim in flight
        self.claim_sent_at = 0.0
        self.lease_until = 0.0  # ms: end of the primary's lease
        self.serving = False  # the primary serves commands that touch keys
        self.last_sent = float("-inf")  # ms: when the primary last sent an append (any renews the lease)

    def step(self, event: Event, now: float) -> list[Action]:
        return getattr(self, _HANDLERS[type(event)])(event, now)

    # -- questions the node asks ------------------------------------------------------------
    def lease_valid(self, now: float) -> bool:
        return self.role is Role.PRIMARY and now < self.lease_until

    def caught_up(self) -> bool:
        return self.applied >= self.journal_tail

    def campaign_wait_ms(self) -> float:
        """Silence after which this replica may claim the shard. The short wait is
        for a shard whose stream is still empty: a node that knows no leader but has
        applied entries (from a snapshot, say) only missed the leader entry, and
        someone may still hold a lease (the simulator's seed 150)."""
        if self.leader is None and self.applied == 0:
            return 0.0 if self.config.prefer_primary else self.config.first_campaign_after_ms
        return self.config.campaign_after_ms

    def claim_after(self) -> int:
        """The entry the claim must directly follow: the latest one this node applied."""
        return self.applied

    def may_campaign(self, now: float) -> bool:
        return (self.role is Role.REPLICA and self.leader_asked and self.caught_up()
                and now - self.last_activity > self.campaign_wait_ms())

    def owns_leader_entry(self, event: EntryApplied) -> bool:
        """Whether a leader entry records this node's own latest claim (one whose
        answer was lost). A token from an earlier incarnation never matches: a
        restarted node has no claim, and that leadership ended with the process."""
        return event.leader == self.config.node_id and self.claim is not None and event.claim == self.claim

    # -- replica ----------------------------------------------------------------------------
    def _leader_asked(self, event: LeaderAsked, now: float) -> list[Action]:
        self.leader_asked = True
        if event.leader is not None:
            self.leader = event.leader
        return []

    def _restored(self, event: Restored, now: float) -> list[Action]:
        # What this node knew of the primary's liveness is as old as its data: it must
        # catch up and then wait a whole campaign period before it may claim.
        self.applied = event.upto
        self.journal_tail = max(self.journal_tail, event.upto)
        self.last_activity = now
        return []

    def _entry_applied(self, event: EntryApplied, now: float) -> list[Action]:
        self.applied = event.entry_id
        self.journal_tail = max(self.journal_tail, event.entry_id)
        if event.kind in ("data", "lease", "leader"):
            self.last_activity = now
        if event.kind == "leader":
            self.leader = event.leader
            if self.role is Role.REPLICA and self.owns_leader_entry(event):
                # Our claim whose answer was lost: it won, but its lease counts from
                # when it was sent, which may be long over.
                self.role = Role.CANDIDATE
                return self._claim_won(ClaimWon(event.entry_id), now)
        return []

    def _tail_seen(self, event: TailSeen, now: float) -> list[Action]:
        self.journal_tail = max(self.journal_tail, event.tail)
        return []

    def _caught_up(self, event: CaughtUp, now: float) -> list[Action]:
        self.journal_tail = self.applied
        return []

    def _tick(self, event: Tick, now: float) -> list[Action]:
        if self.role is Role.PRIMARY:
            return self._primary_tick(now)
        if self.may_campaign(now):
            return self._claim(now)
        return []

    def _campaign_now(self, event: CampaignNow, now: float) -> list[Action]:
        if self.role is Role.REPLICA and self.caught_up():
            return self._claim(now)
        return []

    def _claim(self, now: float) -> list[Action]:
        self.role = Role.CANDIDATE
        self.claim = "%016x" % self.rng.getrandbits(64)
        self.claim_sent_at = now
        return [AppendLeader(self.claim_after(), self.config.node_id, self.claim)]

    def _claim_won(self, event: ClaimWon, now: float) -> list[Action]:
        if self.role is not Role.CANDIDATE:
            return []
        self.role = Role.PRIMARY
        self.applied = self.journal_tail = event.entry_id
        self.leader = self.config.node_id
        self.lease_until = self.claim_sent_at + self.config.lease_ms
        self.last_sent = float("-inf")
        actions: list[Action] = [BecomePrimary(event.entry_id)]
        self.serving = self.lease_valid(now)
        if not self.serving:
            actions.append(StopServing())
        return actions

    def _claim_lost(self, event: ClaimLost, now: float) -> list[Action]:
        if self.role is not Role.CANDIDATE:
            return []
        self.role = Role.REPLICA
        if event.definite:
            self.claim = None
            self.last_activity = now  # someone else moved the stream: give them a whole period
        return []

    # -- primary ----------------------------------------------------------------------------
    def _primary_tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.serving and not self.lease_valid(now):
            self.serving = False
            actions.append(StopServing())
        if now - self.last_sent >= self.config.renew_every_ms:
            actions.append(AppendLease(self.config.node_id, self.config.lease_ms))
        return actions

    def _append_sent(self, event: AppendSent, now: float) -> list[Action]:
        self.last_sent = now
        return []

    def _committed(self, event: Committed, now: float) -> list[Action]:
        if self.role is not Role.PRIMARY:
            return []
        self.lease_until = max(self.lease_until, event.sent_at + self.config.lease_ms)
        self.applied = self.journal_tail = max(self.applied, event.entry_id)
        actions: list[Action] = [Acknowledge(event.entry_id)]
        if not self.serving and self.lease_valid(now):
            self.serving = True
            actions.append(ResumeServing())
        return actions

    def _refused(self, event: Refused, now: float) -> list[Action]:
        if self.role is Role.FENCED:
            return []
        self.role = Role.FENCED
        self.serving = False
        return [Fence(event.reason)]


# Handlers by name, so a test can replace one rule on an instance or subclass.
_HANDLERS: dict[type, str] = {
    LeaderAsked: "_leader_asked",
    Restored: "_restored",
    EntryApplied: "_entry_applied",
    TailSeen: "_tail_seen",
    CaughtUp: "_caught_up",
    Tick: "_tick",
    CampaignNow: "_campaign_now",
    ClaimWon: "_claim_won",
    ClaimLost: "_claim_lost",
    AppendSent: "_append_sent",
    Committed: "_committed",
    Refused: "_refused",
}
