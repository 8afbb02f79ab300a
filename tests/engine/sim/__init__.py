"""Deterministic simulator for the journal (TigerBeetle VOPR style).

One integer seed drives a ``random.Random`` that decides everything: message delays,
drops, duplicates and reordering, partitions, process crashes and restarts, torn
writes of unsynced data, and what the simulated data nodes do. The real ``RaftNode``
and ``JournalState`` run inside; invariants are checked after every event; a failure
prints the seed and the command that replays it.

Modules: ``world`` (clock, event loop, journal replica runtime), ``faults``
(network and disk), ``datanodes``
(primaries and replicas with leases, and the snapshotter), ``invariants``,
``simulator`` (random fault schedule for one seed), ``scenario`` (hand-written
interaction files in ``scenarios/``).
"""
