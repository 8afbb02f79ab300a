"""Running a script: atomically, with its effects logged as one unit, and without
freezing the node for longer than ``busy-reply-threshold``.

Design. The node's event loop is single-threaded asyncio and Lua cannot yield back
to it from the middle of a script, so the Lua call runs in a worker thread (lupa
releases the GIL while Lua runs) and the keyspace stays with the loop's thread:

* every ``redis.call`` is a request the worker hands to the loop's thread, which runs
  the command (``Server.call`` on the script's client, inside the node's effects
  batch, the same one EXEC uses) and hands the plain reply back; Lua values are
  made on the worker. So the keyspace, the batch and every asyncio object are only
  ever touched by the loop's thread.
* Until the threshold, the loop's thread waits for those requests itself (nothing
  else on the loop runs meanwhile: other clients' commands, active expiry, the
  replication stream all wait, exactly as while Redis runs a script).
* Past the threshold, the loop's thread goes back to the loop: the EVAL's reply is a
  ``Pending``; the worker's requests now arrive by ``call_soon_threadsafe``; the
  dispatcher answers other clients ``BUSY`` (except ``allow_busy`` commands such as
  SCRIPT KILL), active expiry skips its cycles, and applying a replication stream
  first takes the script back to the waiting mode and finishes it. SCRIPT KILL
  sets a flag that a Lua count hook reads every 100000 instructions.
* At the end the batch goes to the log as ``MULTI ... EXEC`` (``Server.end_batch``)
  and a durable node holds the reply until the journal committed it.

Inside EXEC (or a replica's stream) a script runs to its end in the waiting mode: an
EXEC's reply cannot be split, so there the threshold does not apply.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from .client import Client, Pending
from .commands import Command
from .errors import RedisError
from .scripting import LuaVM
from .scripting_functions import FunctionStore
from .slots import key_slot

if TYPE_CHECKING:
    from .server import Server

_DONE = object()


@dataclass
class ScriptRun:
    """One running script: what its commands may do and what they did."""

    vm: LuaVM
    fn: Any
    name: bytes
    keys: list[bytes]
    args: list[bytes]
    caller: Client
    is_eval: bool
    read_only: bool
    allow_oom: bool
    allow_cross_slot: bool
    now: float
    start_db: int = 0
    slot: int = -1
    wrote: bool = False
    kill: bool = False
    started: float = field(default_factory=time.monotonic)
    waits: list["asyncio.Future[Any]"] = field(default_factory=list)
    requests: "queue.Queue[tuple[Any, ...]]" = field(default_factory=queue.Queue)
    reply: Any = None
    pending: Pending | None = None  # set once the script passed the threshold


class _Bridge:
    """The worker thread's side of a run (``scripting.Bridge``)."""

    def __init__(self, runner: "ScriptRunner", run: ScriptRun) -> None:
        self.runner = runner
        self.run = run

    def call(self, argv: list[bytes], resp: int) -> Any:
        slot: list[Any] = []
        done = threading.Event()
        self.runner.submit(self.run, ("call", argv, resp, slot, done))
        done.wait()
        return slot[0]

    def killed(self) -> bool:
        return self.run.kill

    def log(self, level: int, message: bytes) -> None:
        self.runner.submit(self.run, ("log", level, message))


class ScriptRunner:
    """The node's scripts in execution: at most one at a time."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.running: ScriptRun | None = None
        self._lock = threading.Lock()
        self._async = False  # the loop's thread went back to the loop (past the threshold)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Client | None = None
        # EVAL's script cache: sha1 -> (compiled function, shebang flags or None).
        self.cache: dict[bytes, tuple[Any, frozenset[bytes] | None]] = {}
        self._eval_vm: LuaVM | None = None
        self.functions = FunctionStore()

    def eval_vm(self) -> LuaVM:
        if self._eval_vm is None:
            self._eval_vm = LuaVM()
        return self._eval_vm

    def flush_eval(self) -> None:
        """SCRIPT FLUSH: forget every script and start a fresh Lua state, as Redis does."""
        self.cache.clear()
        self._eval_vm = None

    # -- the dispatcher's questions ---------------------------------------------------
    @property
    def busy(self) -> bool:
        """A script is past the threshold: other clients get BUSY."""
        return self._async

    def busy_error(self) -> RedisError:
        run = self.running
        return errors.BUSY_SCRIPT if run is None or run.is_eval else errors.BUSY_FUNCTION

    def kill(self, is_eval: bool) -> Any:
        """SCRIPT KILL (``is_eval``) or FUNCTION KILL."""
        run = self.running
        if run is None or not self._async:
            return errors.NOTBUSY
        if run.wrote:
            return errors.UNKILLABLE
        if run.is_eval != is_eval:
            return errors.BUSY_FUNCTION if is_eval else errors.BUSY_SCRIPT
        run.kill = True
        from .resp import OK

        return OK

    def finish_now(self) -> None:
        """Finish a script past the threshold before the loop does keyspace work
        (a replication stream to apply): back to the waiting mode until it ends."""
        run = self.running
        if run is None or not self._async:
            return
        with self._lock:
            self._async = False
        self._serve(run, None)

    # -- running ----------------------------------------------------------------------
    def run(self, run: ScriptRun) -> Any:
        """Run a script for its caller: its reply, or a ``Pending``."""
        server = self.server
        nested = server.running_exec
        start_db = run.start_db = run.caller.db
        if self.server.cluster is not None and run.keys:
            run.slot = key_slot(run.keys[0])
        if not nested:
            server.begin_batch(start_db)
        self.running = run
        client = self._script_client(run)
        threading.Thread(target=self._work, args=(run, client), daemon=True, name="lua").start()
        threshold = None if nested else server.params.get_int("busy-reply-threshold") / 1000
        if self._serve(run, threshold):
            return self._finish(run, start_db, nested)
        # Past the threshold: the loop goes on; the reply comes when the script ends.
        self._loop = asyncio.get_running_loop()
        run.pending = Pending(self._loop.create_future(), None)
        with self._lock:
            self._async = True
            self._drain_locked(run)
        return run.pending

    def _script_client(self, run: ScriptRun) -> Client:
        client = self._client
        if client is None:
            client = self._client = Client(self.server, 0, "lua:0", "lua:0")
            client.name = b"lua"
        caller = run.caller
        client.user, client.db, client.authenticated = caller.user, caller.db, True
        client.readonly, client.asking, client.is_master = caller.readonly, caller.asking, caller.is_master
        client.proto = 2
        return client

    def _work(self, run: ScriptRun, client: Client) -> None:
        from .scripting import Bridge  # noqa: F401  (the protocol _Bridge follows)

        try:
            reply = run.vm.run(run.fn, run.keys, run.args, run.name, _Bridge(self, run), run.caller.proto,
                               not run.is_eval)
        except Exception as exc:  # a bug must end the script, never the worker silently
            reply = errors.internal_error("eval" if run.is_eval else "fcall", type(exc).__name__)
        self.submit(run, ("done", reply))

    def submit(self, run: ScriptRun, item: tuple[Any, ...]) -> None:
        """From the worker: a request for the loop's thread."""
        with self._lock:
            run.requests.put(item)
            if self._async and self._loop is not None:
                self._loop.call_soon_threadsafe(self._drain, run)

    def _serve(self, run: ScriptRun, timeout: float | None) -> bool:
        """Serve the worker's requests on this thread until the script ends (True) or
        ``timeout`` seconds passed since it started (False)."""
        while True:
            wait = None if timeout is None else max(0.0, run.started + timeout - time.monotonic())
            try:
                item = run.requests.get(timeout=wait)
            except queue.Empty:
                return False
            if self._handle(run, item):
                return True

    def _drain(self, run: ScriptRun) -> None:
        with self._lock:
            self._drain_locked(run)

    def _drain_locked(self, run: ScriptRun) -> None:
        if not self._async or self.running is not run:
            return
        while True:
            try:
                item = run.requests.get_nowait()
            except queue.Empty:
                return
            if self._handle(run, item):
                self._async = False
                self._complete_async(run)
                return

    def _handle(self, run: ScriptRun, item: tuple[Any, ...]) -> bool:
        kind = item[0]
        if kind == "call":
            _, argv, resp, slot, done = item
            try:
                slot.append(self._call(run, argv, resp))
            except Exception as exc:  # the worker must always get an answer
                slot.append(errors.internal_error(argv[0].decode(errors="replace"), type(exc).__name__))
            done.set()
            return False
        if kind == "log":
            self.server.log_event(item[2].decode(errors="replace"))
            return False
        run.reply = item[1]
        return True

    def _finish(self, run: ScriptRun, start_db: int, nested: bool) -> Any:
        self.running = None
        if nested:
            return self._held(run, run.reply, None)
        return self._held(run, run.reply, self.server.end_batch(start_db))

    def _held(self, run: ScriptRun, reply: Any, logged: "asyncio.Future[Any] | None") -> Any:
        waits = run.waits + ([logged] if logged is not None else [])
        if not waits:
            return reply
        future = waits[0] if len(waits) == 1 else asyncio.ensure_future(asyncio.gather(*waits))
        return Pending(future, reply)

    def _complete_async(self, run: ScriptRun) -> None:
        pending = run.pending
        assert pending is not None
        final = self._finish(run, run.start_db, False)
        outer: asyncio.Future[Any] = pending.future
        if type(final) is Pending:
            pending.reply = final.reply

            def relay(fut: "asyncio.Future[Any]") -> None:
                if outer.done():
                    return
                if fut.cancelled():
                    outer.cancel()
                elif fut.exception() is not None:
                    outer.set_exception(fut.exception())  # type: ignore[arg-type]
                else:
                    outer.set_result(None)

            final.future.add_done_callback(relay)
        else:
            pending.reply = final
            outer.set_result(None)

    # -- one redis.call ------------------------------------------------------------------
    def _call(self, run: ScriptRun, argv: list[bytes], resp: int) -> Any:
        server = self.server
        cmd = server.lookup_command(argv)
        if type(cmd) is not Command:
            if type(cmd) is RedisError and cmd.text.startswith(errors.WRONG_ARITY_PREFIX):
                return errors.SCRIPT_WRONG_ARGS
            return errors.SCRIPT_UNKNOWN_COMMAND
        if "noscript" in cmd.flags:
            return errors.SCRIPT_NOT_ALLOWED
        client = self._client
        assert client is not None
        client.proto = resp
        user = client.user
        if not user.unrestricted and cmd.name not in user.runs_anywhere:
            denied = user.check(cmd, argv)
            if denied is not None:
                server.acl_denied(client, cmd, argv, denied, b"lua")
                return errors.SCRIPT_ACL_DENIALS[denied[0]]
        if cmd.write:
            if run.read_only:
                return errors.SCRIPT_WRITE_IN_READONLY
            if server.read_only and not client.is_master:
                return errors.READONLY
            if cmd.denyoom and server.maxmemory and not run.wrote and not run.allow_oom:
                if server.used_memory() > server.maxmemory:
                    return errors.OOM
            # Redis's SCRIPT_WRITE_DIRTY: a write command called counts as a write
            # (for the OOM check above and for SCRIPT KILL) even if it changed nothing.
            run.wrote = True
        if server.refusal is not None and (cmd.first_key or cmd.getkeys) and not client.is_master:
            return server.refusal
        if server.cluster is not None and not client.is_master:
            refusal = self._cluster_check(run, client, cmd, argv)
            if refusal is not None:
                return refusal
        before = server.batch_size()
        reply = server.call(client, cmd, argv, run.now)
        if server.batch_size() != before:
            run.wrote = True
        if type(reply) is Pending:
            run.waits.append(reply.future)
            reply = reply.reply
        return reply

    def _cluster_check(self, run: ScriptRun, client: Client, cmd: Command, argv: list[bytes]) -> RedisError | None:
        cluster = self.server.cluster
        assert cluster is not None
        refusal = cluster.check(client, cmd, argv)
        if refusal is not None:
            if refusal.text.startswith(b"CLUSTERDOWN"):
                return errors.SCRIPT_CLUSTER_DOWN
            return errors.SCRIPT_NON_LOCAL_KEY
        keys = cmd.keys(argv) if (cmd.first_key or cmd.getkeys) else []
        if keys and not run.allow_cross_slot:
            slot = key_slot(keys[0])
            if run.slot == -1:
                run.slot = slot
            elif run.slot != slot:
                return errors.SCRIPT_CROSS_SLOT
        return None
