"""The sandbox service: makes reality match the ``Sandbox`` rows and runs what
learners do with their sandboxes. One module per job, each a small object made
once per site process (per event loop) by ``sandbox.manager``, which wires them:

* ``lifecycle`` — reconcile at start-up, the fair start queue and its caps, guest
  limits, the idle culler, the backend calls, shut-down; owns every ``LiveSandbox``;
* ``sessions``  — live sessions: event numbering and the event log, fan-out to the
  channel-layer group, replay for a reconnecting browser, node statistics while a
  page watches, socket counting and message budgets;
* ``console``   — one console command: parse, refuse, send, format;
* ``load``      — start and stop the write load;
* ``faults``    — fault injection, the victims, the crash experiment and its verdict;
* ``checks``    — a lesson's lab checks against the learner's sandbox.

Below them are the parts with no service state: ``sandbox.console`` (the console's
text), ``sandbox.load`` (the write stream and its ledger), ``sandbox.verdict``,
``sandbox.checks``, ``sandbox.observe``, ``sandbox.topology``, ``sandbox.store``.

Every entry point a consumer calls takes an ``Owner`` — never a sandbox id — so a
learner can only ever reach their own sandbox.
"""
