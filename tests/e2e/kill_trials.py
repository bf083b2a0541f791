"""Randomized kill -9 trials: a run killed at a random moment (during start-up, while
trading, while its store is out, or while what piled up during an outage is replayed),
then a clean restart, then the ledger's invariants.

Every random choice of a trial is drawn up front into its `Plan`, so a seed names the same
trials whatever order they run in.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

from tests.e2e.engine_process import EngineRun, Sandbox
from tests.e2e.ledger_checks import book_consistent, engine_agrees, printed_bars_stored, printed_fills_stored
from tests.e2e.stored_book import read_book, write_book

KINDS = ("start-up", "trading", "store out", "replay in the running engine", "replay at start-up")
ENDLESS = 1_000_000  # bars: the killed runs never end by themselves
SPEED = 100.0
FILL_LINE_GRACE_S = 1.0
CLEAN_RESTARTS = 3
NOT_READ_BACK = "the book was never read back"  # the summary of a run that held its book back throughout


@dataclass(frozen=True)
class Plan:
    kind: str
    seed: int           # of the simulated market
    kill_after_s: float  # after start (start-up), after the first fill (trading), or into the outage
    outage: int          # which of the backend's outages
    replay_kill: float   # seconds after the outage ends (running engine), or the share of the
                         # first run's start-up time after which the restart is killed (start-up)


# Seconds to the kill: from the start (start-up), from the first fill (trading), or into the outage.
KILL_AFTER_S = {"start-up": (0.05, 2.5), "trading": (0.0, 1.5)}
OUTAGE_S = (0.2, 3.0)
REPLAY_KILL = {"replay in the running engine": (0.0, 1.0), "replay at start-up": (0.1, 1.2)}


def plan_trials(rng: random.Random, count: int) -> list[Plan]:
    plans = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        plans.append(Plan(kind, rng.randrange(1, 100_000), rng.uniform(*KILL_AFTER_S.get(kind, OUTAGE_S)),
                          rng.randrange(1_000), rng.uniform(*REPLAY_KILL.get(kind, (0.0, 1.0)))))
    return plans


def wait_for_first_fill(run: EngineRun) -> bool:
    """Wait until the run reports a trade; False if it never printed a fill line for it."""
    run.wait_for(lambda out: out.traded())
    return run.wait_for(lambda out: bool(out.fills), timeout=FILL_LINE_GRACE_S)


def _kill_runs(plan: Plan, sandbox: Sandbox, url: str, outages: list) -> None:
    run = sandbox.start(url, bars=ENDLESS, speed=SPEED, seed=plan.seed)
    if plan.kind == "start-up":
        time.sleep(plan.kill_after_s)
        run.kill9()
        return
    wait_for_first_fill(run)
    if plan.kind == "trading":
        time.sleep(plan.kill_after_s)
        run.kill9()
        return
    outage = outages[plan.outage % len(outages)]
    outage.begin()
    sandbox.note(f"outage began: {outage.name}")
    try:
        time.sleep(plan.kill_after_s)
        if plan.kind != "replay in the running engine":
            run.kill9()
    finally:
        outage.end()
        sandbox.note(f"outage ended: {outage.name}")
    if plan.kind == "replay in the running engine":
        time.sleep(plan.replay_kill)
        run.kill9()
    elif plan.kind == "replay at start-up":
        # The journal is replayed during start-up, so the kill lands in a start-up like the first run's.
        restarted = sandbox.start(url, bars=ENDLESS, speed=SPEED, seed=plan.seed)
        time.sleep(plan.replay_kill * (run.first_bar_after_s or 2.0))
        restarted.kill9()


def _clean_restart(sandbox: Sandbox, url: str, seed: int) -> EngineRun:
    """A run to its end that read its book back. One whose store was still taking the replay held
    the book back (as it must) and traded nothing: its figures prove nothing, so the next one runs."""
    for _ in range(CLEAN_RESTARTS):
        clean = sandbox.start(url, bars=20, speed=300, seed=seed)
        if clean.wait() != 0 or not any(NOT_READ_BACK in line for line in clean.output().lines):
            return clean
    return clean


def run_trial(plan: Plan, sandbox: Sandbox, url: str, outages: list) -> list[str]:
    """The problems found after the trial (none: clean)."""
    _kill_runs(plan, sandbox, url, outages)
    clean = _clean_restart(sandbox, url, plan.seed)
    if clean.returncode != 0:
        return [f"the clean restart exited {clean.returncode}: {clean.stderr_text()[-500:]}"]
    book = read_book(url)
    printed = sandbox.fills()
    problems = [] if printed or not book.trades else [
        f"the store holds {len(book.trades)} trades but no run printed a fill line"]
    bars = [bar for run in sandbox.runs for bar in run.output().bars]
    problems += (printed_fills_stored(printed, book) + printed_bars_stored(bars, book)
                 + book_consistent(book) + engine_agrees(clean.output().summary, book))
    if problems:  # the store is dropped after the trial: keep what it held beside the runs' output
        write_book(book, sandbox.root / "book.txt")
    return problems
