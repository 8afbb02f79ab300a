"""What a lesson's ```` ```redis ```` block runs, and what the lesson says of it.

A block is console lines, one command a line, which the page's Run button sends in
order to the learner's sandbox (``static/js/lesson.js``): a later line may depend on
an earlier one. Lines starting with ``#`` are notes to the learner, shown in the
block and never sent. Two notes are understood, and no other:

* ``# runs on: cache`` (or ``durable``), the block's first line: the cluster the
  block runs on. Without it a block runs on the durable cluster, through the
  console's cluster-aware client (``redis-cli -c``), as every block does;
* ``# fails on purpose (CODE): why`` right before a command: its reply is an error
  whose first word is CODE (``CROSSSLOT``, ``ERR``, ``NOPERM``...), or the console
  refuses it (``refused``: a command the sandbox does not run). The learner reads
  the note before pressing Run; the tests hold every other command to succeed.

Invariants: ``parse`` names every malformed note (the loader refuses the lesson),
and the commands it returns are exactly what the Run button carries, one a line,
in order. Pure functions, no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CLUSTERS = ("durable", "cache")
REFUSED = "refused"  # the console's own refusal (sandbox.console.refusal), not a node's error
_RUNS_ON = re.compile(r"#\s*runs on:\s*(?P<cluster>\S+)\s*")
_FAILS = re.compile(r"#\s*fails on purpose \((?P<code>[^)]*)\):\s*(?P<why>.*)")
_CODE = re.compile(rf"[A-Z][A-Z0-9_-]*|{REFUSED}")


@dataclass(frozen=True)
class RunLine:
    command: str
    expect: str | None = None  # the error's first word, REFUSED, or None: it must succeed
    why: str = ""


@dataclass
class RunBlock:
    cluster: str = "durable"
    lines: list[RunLine] = field(default_factory=list)

    @property
    def commands(self) -> list[str]:
        return [line.command for line in self.lines]


def parse(code: str) -> tuple[RunBlock, list[str]]:
    """The block's commands and notes, and what is wrong with its notes."""
    block, problems = RunBlock(), []
    pending: tuple[str, str] | None = None
    for number, raw in enumerate(code.split("\n"), start=1):
        text = raw.strip()
        if not text:
            continue
        if not text.startswith("#"):
            expect, why = pending or (None, "")
            block.lines.append(RunLine(text, expect, why))
            pending = None
            continue
        if pending is not None:
            problems.append(f"line {number}: a 'fails on purpose' note must come right before its command")
            pending = None
        runs_on, fails = _RUNS_ON.fullmatch(text), _FAILS.fullmatch(text)
        if runs_on:
            if block.lines or number != _first_line(code):
                problems.append(f"line {number}: 'runs on' is the block's first line")
            elif runs_on.group("cluster") not in CLUSTERS:
                problems.append(f"line {number}: a block runs on {' or '.join(CLUSTERS)}")
            else:
                block.cluster = runs_on.group("cluster")
        elif fails:
            code_word, why = fails.group("code").strip(), fails.group("why").strip()
            if not _CODE.fullmatch(code_word):
                problems.append(
                    f"line {number}: ({code_word}) is not an error's first word in capitals, nor {REFUSED!r}"
                )
            elif not why:
                problems.append(f"line {number}: say why it fails, after the colon")
            else:
                pending = (code_word, why)
        else:
            problems.append(
                f"line {number}: {text[:40]!r} is not a note a Run block understands "
                "('# runs on: cache' or '# fails on purpose (CODE): why')"
            )
    if pending is not None:
        problems.append("the last 'fails on purpose' note has no command after it")
    if not block.lines:
        problems.append("the block has no command to run")
    return block, problems


def _first_line(code: str) -> int:
    return next((n for n, line in enumerate(code.split("\n"), start=1) if line.strip()), 0)


def answers_as_told(line: RunLine, message: dict[str, Any]) -> bool:
    """Whether the websocket's answer to ``line`` (a "reply" or an "error" message)
    is what the lesson says: no error, or the error its note names (a node's error,
    or the console's refusal)."""
    if message.get("type") == "error":
        return line.expect == REFUSED and message.get("code") == "forbidden_command"
    if not message.get("error"):
        return line.expect is None
    # A redirect note ("-> Redirected to ...") may come before the error line.
    errors = [t for t in str(message.get("text", "")).splitlines() if t.startswith("(error) ")]
    first = errors[0].removeprefix("(error) ").split(" ", 1)[0] if errors else ""
    return line.expect is not None and line.expect == first
