"""Run the journal simulator from the command line.

    python -m tests.engine.sim --seed 42 --verbose     # replay one seed with its trace
    python -m tests.engine.sim --seeds 1000 --first 5000  # a sweep; stops at the first failure
"""

from __future__ import annotations

import argparse
import sys
import time

from .invariants import SimFailure
from .simulator import run_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.engine.sim", description=__doc__)
    parser.add_argument("--seed", type=int, help="run (replay) this one seed")
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to sweep")
    parser.add_argument("--first", type=int, default=0, help="first seed of the sweep")
    parser.add_argument("--verbose", action="store_true", help="print every event")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    started = time.monotonic()
    for seed in seeds:
        try:
            report = run_seed(seed, verbose=args.verbose)
        except SimFailure as exc:
            print(exc, file=sys.stderr)
            return 1
        if args.verbose or len(seeds) == 1:
            print(report.summary())
    print(f"{len(seeds)} seed(s) passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
