"""Hand-written interaction scenarios (etcd-raft "interaction" style) for the journal.

A scenario is a text file, one command per line, ``#`` starts a comment. The world
is the simulator's (same replicas, runtime, invariants after every event) with a
quiet network: fixed 2 ms delivery, 1 ms fsync, no random faults. Commands:

    seed N                                  # before anything else; default 1
    config lease_ms=400 ...                 # SimConfig integer fields; before anything else
    campaign az-a                           # az-a starts an election now
    tick 300                                # advance virtual time by 300 ms
    propose az-a x [as r1]                  # data append to shard "scn" after az-a's tail
    append az-a SHARD AFTER KIND DATA [as r1]   # raw journal append via az-a (KIND: data,
                                            #   lease (DATA = node:ms), leader (DATA = node), checksum)
    partition az-a s-d1 | az-b az-c         # unlisted endpoints reach everyone
    heal
    crash NAME [torn]                       # a replica or a data node; torn: tear the unsynced write
    crash-during-write az-b                 # crash az-b right after its next write, before fsync
    corrupt az-b                            # az-b is down: flip a byte in a fsynced record that has
                                            #   valid records after it (its restart finds it corrupt)
    restart NAME
    slow-disk az-b 500                      # az-b's fsyncs now take 500 ms
    early-append on|off                     # leaders replicate before their own fsync (Raft §10.2.1)
    datanode NAME SHARD AZ                  # add a simulated data node (replica at first)
    promote NAME                            # the data node claims leadership now
    settle                                  # heal, restart all, stop writes, converge, final checks
    expect leader az-a [term N] | expect leader none
    expect role az-a follower|pre-candidate|candidate|leader
    expect term az-a N
    expect commit az-a N
    expect stream az-a SHARD [DATA ...]      # data payloads in the stream, in order
    expect tail az-a SHARD N
    expect shard-leader az-a SHARD NODE [epoch N]
    expect result r1 ok N|condfail N|notleader|dropped|fenced|pending
    expect primary SHARD NODE|none          # the data node holding a valid lease now
    expect torn az-b                        # az-b's last restart truncated a torn tail
    expect corrupt az-b                     # a restart of az-b found its log corrupt
    expect recovering az-b yes|no           # az-b is (not) recovering a lost log
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from sandbox.engine.journal_state import (
    AppendCommand,
    Appended,
    CondFail,
    EntryKind,
    Fenced,
    encode_command,
    encode_lease,
    encode_leader,
)
from sandbox.engine.raft import Role

from .datanodes import DataNode
from .simulator import settle
from .world import Dropped, JournalReplica, JReply, NotLeader, SimConfig, World

SCENARIO_DIR = Path(__file__).parent / "scenarios"
QUIET = SimConfig(net_delay_ms=(2, 2), fsync_ms=(1, 1))


class ScenarioError(AssertionError):
    pass


class _Client:
    """The scenario's own journal client: records replies by label."""

    alive = True

    def __init__(self) -> None:
        self.labels: dict[int, str] = {}
        self.results: dict[str, object] = {}

    def receive(self, src: str, message: object) -> None:
        if isinstance(message, JReply) and message.req_id in self.labels:
            self.results[self.labels[message.req_id]] = message.result


class Scenario:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seed = 1
        self.config = QUIET
        self._world: World | None = None
        self.client = _Client()

    @property
    def world(self) -> World:
        if self._world is None:
            self._world = World(self.seed, self.config)
            self._world.endpoints["client"] = self.client
        return self._world

    def replica(self, name: str) -> JournalReplica:
        if name not in self.world.replicas:
            raise ScenarioError(f"no journal replica {name!r}")
        return self.world.replicas[name]

    def run(self, text: str) -> None:
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                self.execute(shlex.split(line))
            except AssertionError as exc:
                trace = "\n".join(self._world.trace) if self._world else ""
                raise ScenarioError(f"{self.name}:{lineno}: {line}\n  {exc}\n--- trace ---\n{trace}") from exc
            except (KeyError, ValueError, IndexError) as exc:
                raise ScenarioError(f"{self.name}:{lineno}: bad command {line!r}: {exc}") from exc

    def execute(self, words: list[str]) -> None:
        cmd, args = words[0], words[1:]
        if cmd in ("seed", "config"):
            if self._world is not None:
                raise ScenarioError(f"{cmd} must come before anything else")
            if cmd == "seed":
                self.seed = int(args[0])
            else:
                self.config = dataclasses.replace(self.config, **{k: int(v) for k, v in (a.split("=") for a in args)})
            return
        w = self.world
        if cmd == "campaign":
            r = self.replica(args[0])
            r.handle(r.node.campaign(w.now))
        elif cmd == "tick":
            w.run_for(int(args[0]))
        elif cmd == "propose":
            r = self.replica(args[0])
            self._append(r, AppendCommand("scn", r.state.tail("scn"), EntryKind.DATA, args[1].encode()), args[2:])
        elif cmd == "append":
            r, shard, after, kind = self.replica(args[0]), args[1], int(args[2]), EntryKind(args[3])
            data = args[4]
            label = args[6] if len(args) > 6 else ""
            if kind is EntryKind.LEASE:
                node, ms = data.split(":")
                payload = encode_lease(node, int(ms))
            elif kind is EntryKind.LEADER:
                payload = encode_leader(data, label)
            else:
                payload = data.encode()
            self._append(r, AppendCommand(shard, after, kind, payload), args[5:])
        elif cmd == "partition":
            groups = " ".join(args).split("|")
            w.net.partition([g.split() for g in groups])
        elif cmd == "heal":
            w.net.heal()
        elif cmd == "crash":
            if args[0] in w.replicas:
                self.replica(args[0]).crash(force_torn=args[1:] == ["torn"])
            else:
                w.datanodes[args[0]].crash()
        elif cmd == "corrupt":
            r = self.replica(args[0])
            if r.alive:
                raise ScenarioError(f"{args[0]} is running: corrupt a replica while it is down")
            if r.corrupt() is None:
                raise ScenarioError(f"{args[0]}'s log has no record with a valid one after it")
        elif cmd == "crash-during-write":
            self.replica(args[0]).crash_on_write = 1 << 40  # stays down until "restart"
        elif cmd == "restart":
            target = w.replicas.get(args[0]) or w.datanodes[args[0]]
            if target.alive:
                raise ScenarioError(f"{args[0]} is running")
            target.start()
        elif cmd == "slow-disk":
            ms = int(args[1])
            self.replica(args[0]).fsync_ms = (ms, ms)
        elif cmd == "early-append":
            w.leader_sends_early = args[0] == "on"
        elif cmd == "datanode":
            w.add_datanode(DataNode(w, args[0], args[1], args[2]))
        elif cmd == "promote":
            w.datanodes[args[0]].campaign()
        elif cmd == "settle":
            settle(w)
            w.checker.final()
        elif cmd == "expect":
            self.expect(args)
        else:
            raise ScenarioError(f"unknown command {cmd!r}")

    def _append(self, r: JournalReplica, cmd: AppendCommand, rest: list[str]) -> None:
        req = self.world.next_req()
        if rest:
            if rest[0] != "as":
                raise ScenarioError("expected 'as LABEL'")
            self.client.labels[req] = rest[1]
        r.propose(encode_command(cmd), "client", req)

    def expect(self, args: list[str]) -> None:
        what, w = args[0], self.world
        if what == "leader":
            leaders = w.leaders()
            if args[1] == "none":
                assert not leaders, f"expected no leader, found {[r.name for r in leaders]}"
                return
            names = [r.name for r in leaders]
            top = max(leaders, key=lambda r: r.node.term, default=None)
            assert top is not None and top.name == args[1], f"expected leader {args[1]}, leaders are {names}"
            if len(args) > 3:
                assert top.node.term == int(args[3]), f"{args[1]} leads term {top.node.term}, expected {args[3]}"
        elif what == "role":
            node = self.replica(args[1]).node
            assert node.role is Role(args[2]), f"{args[1]} is {node.role.value} in term {node.term}"
        elif what == "term":
            node = self.replica(args[1]).node
            assert node.term == int(args[2]), f"{args[1]} is in term {node.term}"
        elif what == "commit":
            node = self.replica(args[1]).node
            assert node.commit == int(args[2]), f"{args[1]} commit is {node.commit}"
        elif what == "stream":
            r, shard = self.replica(args[1]), args[2]
            payloads, _ = w.checker.history(r, shard)
            got = [p.decode() for p in payloads]
            assert got == args[3:], f"{args[1]} shard {shard} holds {got}"
        elif what == "tail":
            tail = self.replica(args[1]).state.tail(args[2])
            assert tail == int(args[3]), f"{args[1]} shard {args[2]} tail is {tail}"
        elif what == "shard-leader":
            lead = self.replica(args[1]).state.leader(args[2])
            assert lead is not None and lead.node == args[3], f"shard {args[2]} leadership is {lead}"
            if len(args) > 5:
                assert lead.epoch == int(args[5]), f"shard {args[2]} leadership epoch is {lead.epoch}"
        elif what == "result":
            self._expect_result(args[1], args[2:])
        elif what == "primary":
            holders = [n.name for n in w.shard_nodes.get(args[1], []) if n.holds_lease()]
            want = [] if args[2] == "none" else [args[2]]
            assert holders == want, f"shard {args[1]} lease holders: {holders}"
        elif what == "torn":
            assert self.replica(args[1]).torn_recoveries > 0, f"{args[1]} never truncated a torn tail"
        elif what == "corrupt":
            assert self.replica(args[1]).corrupt_starts > 0, f"{args[1]} never found its log corrupt"
        elif what == "recovering":
            node = self.replica(args[1]).node
            want = {"yes": True, "no": False}[args[2]]
            assert node.recovering == want, f"{args[1]} recovering is {node.recovering} (term {node.term}, commit {node.commit})"
        else:
            raise ScenarioError(f"unknown expectation {what!r}")

    def _expect_result(self, label: str, want: list[str]) -> None:
        got = self.client.results.get(label)
        kinds = {"ok": Appended, "condfail": CondFail, "notleader": NotLeader, "dropped": Dropped, "fenced": Fenced}
        if want[0] == "pending":
            assert got is None, f"{label} already has a result: {got}"
            return
        assert isinstance(got, kinds[want[0]]), f"{label} result is {got}, expected {want[0]}"
        if isinstance(got, Appended) and len(want) > 1:
            assert got.id == int(want[1]), f"{label} appended at {got.id}"
        if isinstance(got, CondFail) and len(want) > 1:
            assert got.tail_id == int(want[1]), f"{label} tail was {got.tail_id}"


def run_scenario(path: Path) -> World:
    scenario = Scenario(path.name)
    scenario.run(path.read_text())
    return scenario.world
