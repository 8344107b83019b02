"""Repeat every fault scenario of tests/reliability on one private stack and print what survived.

    python bench/faults.py                      # every scenario, 20 rounds each
    python bench/faults.py --rounds 5 worker-hash-node redis-restart
    python bench/faults.py --redeliver-seconds 1000000 --rounds 3 worker-hash-node   # without outbox re-publication

The stack is the fault tests' own (tests/reliability/stack.py): a throwaway PostgreSQL cluster made with initdb and
a Redis server without persistence, both on free ports, plus gunicorn, a Celery worker and the outbox relay. The
shared PostgreSQL and Redis are never touched. For each scenario it prints runs, survived (everything there exactly
once), lost, duplicated, and recovery time (from the fault until every report is hashed and queued, or the
delivery delivered) as p50 and max. Figures go to docs/reliability.md with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability import scenarios
from tests.reliability.stack import running_stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"scenarios (default all): {', '.join(scenarios.SCENARIOS)}")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--redeliver-seconds", type=int, default=3,
                        help="OUTBOX_REDELIVER_SECONDS of the stack (a huge value shows the stack without it)")
    parser.add_argument("--timeout", type=float, default=scenarios.RECOVERY_TIMEOUT,
                        help="seconds a scenario waits for recovery before counting what is missing as lost")
    parser.add_argument("--json", type=Path, help="also write every outcome here")
    args = parser.parse_args()
    names = args.names or list(scenarios.SCENARIOS)
    unknown = [name for name in names if name not in scenarios.SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {unknown}")
    os.environ["FAULT_REDELIVER_SECONDS"] = str(args.redeliver_seconds)
    scenarios.RECOVERY_TIMEOUT = args.timeout
    load_before = os.getloadavg()
    started = time.monotonic()
    results: dict[str, list[scenarios.Outcome]] = {name: [] for name in names}
    errors: dict[str, int] = {name: 0 for name in names}
    with running_stack() as stack:
        receiver = scenarios.Receiver()
        try:
            for name in names:
                for round_ in range(args.rounds):
                    try:
                        outcome = scenarios.SCENARIOS[name](stack, receiver=receiver, seed=round_)
                    except Exception as exc:  # a scenario that could not even run counts against it
                        errors[name] += 1
                        print(f"{name} round {round_}: could not run: {exc!r}", file=sys.stderr, flush=True)
                        continue
                    results[name].append(outcome)
                    if not outcome.survived:
                        print(f"{name} round {round_}: {outcome}", file=sys.stderr, flush=True)
                print(f"done: {name}", file=sys.stderr, flush=True)
        finally:
            receiver.close()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    header = "| scenario | runs | survived | lost | duplicated | recovery p50 (s) | recovery max (s) |"
    print(header)
    print("|---|---|---|---|---|---|---|")
    for name in names:
        outcomes = results[name]
        times = [outcome.recovery_seconds for outcome in outcomes] or [0.0]
        runs = len(outcomes) + errors[name]
        survived = sum(1 for outcome in outcomes if outcome.survived)
        lost = sum(outcome.lost for outcome in outcomes)
        duplicated = sum(outcome.duplicated for outcome in outcomes)
        error_note = f" ({errors[name]} could not run)" if errors[name] else ""
        print(f"| {name} | {runs} | {survived}{error_note} | {lost} | {duplicated} | "
              f"{statistics.median(times):.2f} | {max(times):.2f} |")
    print(f"\n{sum(len(v) for v in results.values())} runs in {elapsed:.0f} s; OUTBOX_REDELIVER_SECONDS="
          f"{args.redeliver_seconds}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps({name: [vars(o) for o in outs] for name, outs in results.items()},
                                        default=str, indent=1))
    return 0 if all(o.survived for outs in results.values() for o in outs) and not any(errors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
