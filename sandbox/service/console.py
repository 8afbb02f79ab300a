"""The console service: one command line from a learner's page, straight down —
parse it (``split_args``), refuse what a sandbox must not run (``refusal``), send
it through the cluster client as ``redis-cli -c`` would, and format the reply as
redis-cli prints it (``sandbox.console``'s pure functions do the text).

Invariants:
* a learner reaches only their own running sandbox (``Lifecycle.running(owner)``);
* a reply is read only up to a display budget (``DisplayBudget``), so a huge reply
  costs the site a bounded time; its text never passes daphne's message limit;
* what the learner sees never names a node's address: a link error or a timeout
  becomes a sentence, and redirects name the shard;
* commands are budgeted per owner (``allow``), apart from the socket's message budget;
* a command is learner activity (it resets the idle clock).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sandbox.conf import SandboxLimits
from sandbox.console import BadCommandLine, docs_from_reply, fit_text, format_for, memorydb_view, refusal, split_args
from sandbox.owners import Owner
from sandbox.protocol import ClientError, TokenBucket
from sandbox.resp import DisplayBudget, ErrorReply, LinkDown
from sandbox.service.lifecycle import Lifecycle


class ConsoleService:
    def __init__(self, limits: SandboxLimits, lifecycle: Lifecycle) -> None:
        self.limits = limits
        self.lifecycle = lifecycle
        self._buckets: dict[str, TokenBucket] = {}  # console commands, per owner
        self._docs: dict[str, Any] | None = None  # COMMAND DOCS, the same for every sandbox

    def allow(self, owner: Owner) -> bool:
        """Whether the owner's command budget has room for one more command."""
        bucket = self._buckets.get(owner.key)
        if bucket is None:
            bucket = self._buckets[owner.key] = TokenBucket(
                self.limits.commands_per_second, self.limits.command_burst
            )
        return bucket.take()

    async def run(self, owner: Owner, cluster: str, line: str) -> dict[str, Any]:
        """{"text": what redis-cli would print, "error": bool, "ms": the node's time}."""
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        try:
            args = split_args(line)
        except BadCommandLine as exc:
            raise ClientError("bad_command", f"Invalid argument(s): {exc}.") from None
        if not args:
            return {"text": "", "error": False, "ms": 0.0}
        why = refusal(args)
        if why is not None:
            raise ClientError("forbidden_command", why, command=args[0].decode("utf-8", "replace").upper())
        if cluster not in live.lanes:
            raise ClientError("bad_field", f"Your sandbox runs no {cluster} lane: turn it on first.", field="cluster")
        client = live.clients.console[cluster]
        # Read only what a person can look at: a cut reply never reaches the formatter whole.
        budget = DisplayBudget(self.limits.console_reply_values, self.limits.console_reply_bytes)
        started = time.perf_counter()
        try:
            reply, notes = await asyncio.wait_for(client.console(args, budget), self.limits.console_timeout_seconds)
        except asyncio.TimeoutError:
            if client.current is not None:
                client.drop(client.current)
            return {
                "text": f"(error) No reply within {self.limits.console_timeout_seconds:g} s; "
                "the console reconnected.\n",
                "error": True,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except LinkDown as exc:
            return {"text": self._link_down_text(exc), "error": True, "ms": 0.0}
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        text = "".join(note + "\n" for note in notes) + format_for(args, memorydb_view(args, reply))
        text = fit_text(text, self.limits.console_reply_text_bytes)
        return {"text": text, "error": isinstance(reply, ErrorReply), "ms": elapsed}

    def _link_down_text(self, exc: LinkDown) -> str:
        # Not str(exc): its text names the node's address, which the browser is never shown.
        if exc.closed_by_node:
            return (
                "(error) The node closed the connection instead of replying. A node does that, as "
                f"Redis does, when a reply would pass a client's output buffer limit "
                f"({self.limits.client_output_buffer_limit}), and when it crashes. The console "
                "reconnects with the next command.\n"
            )
        return "(error) The node could not be reached; the console reconnects with the next command.\n"

    async def docs(self, owner: Owner) -> dict[str, Any]:
        """Help for every command, from the engine's own COMMAND DOCS (cached)."""
        if self._docs is None:
            live = self.lifecycle.running(owner)
            reply, _ = await live.clients.probe["durable"].console([b"COMMAND", b"DOCS"])
            if isinstance(reply, ErrorReply):
                raise ClientError("not_ready", f"COMMAND DOCS failed: {reply}")
            self._docs = docs_from_reply(reply)
        return self._docs
