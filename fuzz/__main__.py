"""``python -m fuzz [--seconds N] [--report FILE] [--list] [TARGET-or-PREFIX ...]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import warnings
from contextlib import AsyncExitStack

from fuzz.harness import Outcome, Target, app_env, load_targets, quiet_logs, run_target, select


def run_one(t: Target, seconds: float, seed: int | None) -> Outcome:
    """A plain target directly; an HTTP target inside a running gateway on its own loop."""
    if not t.needs_app:
        return run_target(t, seconds, seed=seed)
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        env = loop.run_until_complete(stack.enter_async_context(app_env(t.config)))
        return run_target(t, seconds, env, seed)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    p.add_argument("--seconds", type=float, default=20.0, help="time per target (default 20)")
    p.add_argument("--report", help="write the per-target results as JSON to this file")
    p.add_argument("--seed", type=int, help="repeatable inputs (round n of a target uses SEED + n)")
    p.add_argument("--list", action="store_true", help="name the targets and exit")
    p.add_argument("names", nargs="*", help="targets or name prefixes (default: all)")
    args = p.parse_args(argv)
    quiet_logs()
    warnings.simplefilter("ignore")
    targets = list(select(load_targets(), args.names))
    if args.list or not targets:
        print("\n".join(t.name for t in targets) or "no target matches", file=sys.stdout if targets else sys.stderr)
        return 0 if targets else 2
    results = []
    for t in targets:
        outcome = run_one(t, args.seconds, args.seed)
        results.append(outcome)
        verdict = "CRASH" if outcome.crash else "ok"
        print(f"{t.name:28} {verdict:5} {outcome.runs:>9} inputs in {outcome.seconds:6.1f} s", flush=True)
        if outcome.crash:
            print("    " + outcome.crash.replace("\n", "\n    "), flush=True)
    crashed = [o for o in results if o.crash]
    print(f"fuzz: {len(results)} target(s), {sum(o.runs for o in results)} inputs, {len(crashed)} crash(es)")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump([o.__dict__ for o in results], f, ensure_ascii=False, indent=1)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
