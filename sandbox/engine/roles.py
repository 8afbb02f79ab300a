"""The node's role: the one declared seam between a data node (``server.Server``)
and whatever makes its writes outlive it.

A ``Server`` always holds exactly one ``NodeRole`` (``server.role``) and reaches
replication and durability only through it:

* **a write's effects** — ``effect_log()`` is where the dispatcher hands them
  (None: nowhere); ``read_only``, ``expires_locally`` and ``refusal`` say whether
  normal clients may write, whether the node deletes keys whose TTL passed or waits
  for its primary's DEL, and which error every keyed command gets meanwhile (a
  durable primary whose lease ended, a fenced node);
* **replication info** — the whole INFO replication section, INFO stats' sync
  counters, the ROLE reply, WAIT, a replica's REPLCONF ACK, and the node's cache
  replication state for REPLICAOF/PSYNC (``replication()``, which durable mode refuses);
* **shutdown** — ``close()``, which ``Server.stop`` calls before it closes the clients.

Roles that fit: ``StandaloneRole`` (a node nobody replicates; it becomes a cache
primary when a replica first connects or REPLICAOF is sent), ``CopyRole`` (a
keyspace rebuilt from someone else's stream: a snapshot load, the snapshotter's
replay), ``replication.Replication`` (cache mode, primary or replica: REPLICAOF
switches between the two without changing the object) and ``durable.DurableNode``
(durable mode, primary or replica as the shard's leadership machine decides).

Invariant: a role never writes the server's attributes. When its answers change it
calls ``server.role_changed()``, and the server copies them into the fields its
dispatcher reads on every command. Nothing else attaches state to a ``Server``.

Blocked clients are the server's too: a family of blocking commands keeps its
parked clients in a registry it enrols in ``server.blocked`` (``BlockedClients``),
which CLIENT UNBLOCK asks in enrolment order; the dispatcher serves the keys that
became ready after each command (``serve_ready``), and a node that stops being a
primary unblocks them all (``node_changed``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from . import errors
from .errors import RedisError

if TYPE_CHECKING:
    from .client import Client
    from .replication import Replication
    from .server import EffectLog, Server

NO_REPLID = "0" * 40


class NodeRole(Protocol):
    """What a ``Server`` asks of the layer that replicates or journals its writes."""

    read_only: bool  # refuses writes from normal clients (READONLY)
    expires_locally: bool  # deletes keys whose TTL passed (else waits for the primary's DEL)
    refusal: RedisError | None  # every command that touches keys gets this error while set

    def effect_log(self) -> "EffectLog | None":
        """Where a write's effects go (None: they go nowhere)."""

    def info_fields(self) -> list[tuple[str, Any]]:
        """INFO replication, in Redis 7.0's order (extra fields after Redis's)."""

    def sync_counts(self) -> tuple[int, int, int]:
        """INFO stats' sync_full, sync_partial_ok, sync_partial_err."""

    def role_reply(self) -> list[Any]:
        """The ROLE reply."""

    def wait_refusal(self) -> RedisError | None:
        """Why WAIT can't run on this node (checked before its arguments, as Redis does)."""

    def wait(self, client: "Client", numreplicas: int, timeout_ms: int, in_exec: bool) -> Any:
        """WAIT's reply, or a ``Pending`` holding it until enough replicas acknowledged."""

    def replica_ack(self, client: "Client", offset: int) -> None:
        """A replica's ``REPLCONF ACK offset`` on connection ``client``."""

    def replication(self) -> "Replication":
        """The node's cache replication state, for REPLICAOF and PSYNC (created on first use)."""

    def close(self) -> None:
        """The node stops: drop links and wake what waits on them."""


def lone_primary_fields(role: str, replid: str) -> list[tuple[str, Any]]:
    """INFO replication of a node that never had replicas (Redis 7.0's fields)."""
    return [
        ("role", role),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", replid),
        ("master_replid2", NO_REPLID),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", 1048576),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


class StandaloneRole:
    """A node nobody replicates (``python -m sandbox.engine server``, in-process
    servers): its writes go nowhere, and it becomes a cache primary
    (``replication.Replication``) when a replica sends PSYNC or it is told REPLICAOF."""

    expires_locally = True

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.replid = os.urandom(20).hex()
        self.read_only = False
        self.refusal: RedisError | None = None

    def effect_log(self) -> "EffectLog | None":
        return None

    def info_fields(self) -> list[tuple[str, Any]]:
        return lone_primary_fields("slave" if self.server.read_only else "master", self.replid)

    def sync_counts(self) -> tuple[int, int, int]:
        return 0, 0, 0

    def role_reply(self) -> list[Any]:
        return [b"master", 0, []]

    def wait_refusal(self) -> RedisError | None:
        return errors.REPL_WAIT_ON_REPLICA if self.server.read_only else None

    def wait(self, client: "Client", numreplicas: int, timeout_ms: int, in_exec: bool) -> Any:
        if numreplicas <= 0 or in_exec:
            return 0  # no replica has ever connected
        return self.replication().wait(client, numreplicas, timeout_ms, in_exec)

    def replica_ack(self, client: "Client", offset: int) -> None:
        return None  # not a primary of anyone: an ACK from nowhere is ignored

    def replication(self) -> "Replication":
        from .replication import Replication

        if self.server.log is not None:
            # Someone else takes this node's effects (a test's recorder): streaming
            # them to replicas too would give them two homes.
            raise errors.REPLICATION_IN_DURABLE_MODE
        return Replication(self.server)  # it makes itself the server's role

    def close(self) -> None:
        return None


class CopyRole(StandaloneRole):
    """A keyspace rebuilt from another node's stream (snapshot loads, the
    snapshotter's replay, a rebase): a key whose TTL passed stays until the stream
    deletes it, as on a replica, so the copy is the data as it was written."""

    expires_locally = False


# -- blocked clients ----------------------------------------------------------------------------


class BlockedFamily(Protocol):
    """The parked clients of one family of blocking commands (XREAD/XREADGROUP ...)."""

    def unblock_client(self, client_id: int, error: bool) -> bool:
        """CLIENT UNBLOCK: answer the client as a timeout (or an error); False if it isn't parked here."""

    def key_changed(self, dbkey: tuple[int, bytes]) -> None:
        """Clients blocked on ``dbkey`` look at it again (a change WATCH does not see)."""

    def unblock_all(self, error: RedisError) -> None:
        """The node stopped being a primary: answer every parked client ``error`` and close it."""


class ReadyFamily(Protocol):
    """A family whose ready keys are served once the running command has finished."""

    def serve_ready(self) -> None:
        """Serve the clients blocked on the keys that became ready."""


F = TypeVar("F", bound=BlockedFamily)


class BlockedClients:
    """A server's registries of blocked clients, one per family, in enrolment order."""

    def __init__(self) -> None:
        self._families: dict[str, BlockedFamily] = {}
        # Families with keys that became ready, served after the running command
        # (or EXEC) finished, as Redis's handleClientsBlockedOnKeys runs after call().
        self.due: list[ReadyFamily] = []

    def get(self, name: str) -> BlockedFamily | None:
        return self._families.get(name)

    def enrol(self, name: str, family: F) -> F:
        """Make ``family`` the registry for ``name`` (replacing one of an older event loop)."""
        self._families.pop(name, None)
        self._families[name] = family
        return family

    def unblock_client(self, client_id: int, error: bool) -> bool:
        """CLIENT UNBLOCK: the first family holding the client answers it."""
        return any(family.unblock_client(client_id, error) for family in list(self._families.values()))

    def key_changed(self, dbkey: tuple[int, bytes]) -> None:
        """A key changed in a way WATCH does not see (XGROUP DESTROY): wake its blocked clients."""
        for family in list(self._families.values()):
            family.key_changed(dbkey)

    def wake_soon(self, family: ReadyFamily) -> None:
        """``family`` has ready keys: serve them once the running command has finished."""
        if family not in self.due:
            self.due.append(family)

    def serve_ready(self) -> None:
        """The dispatcher's hook after each command: serve the families with ready keys."""
        while self.due:
            self.due.pop(0).serve_ready()

    def node_changed(self, was_read_only: bool, read_only: bool, refusal: RedisError | None) -> None:
        """The role's answers changed: a node that became a replica, or a durable
        primary that lost its leadership for good, unblocks everyone (a lapsed lease
        may be renewed, so its clients stay)."""
        if (read_only and not was_read_only) or (refusal is not None and refusal is not errors.LEASE_EXPIRED):
            for family in list(self._families.values()):
                family.unblock_all(errors.UNBLOCKED_DEMOTED)


RoleFactory = Callable[["Server"], NodeRole]
