"""A long-running engine whose store is taken away for a while and given back: what it
printed, and the store it left behind once a clean restart has replayed anything pending."""
from __future__ import annotations

import time

from tests.e2e.engine_process import Sandbox
from tests.e2e.ledger_checks import (book_consistent, engine_agrees, performance_continuous,
                                     printed_bars_stored, store_holds_exactly)
from tests.e2e.kill_trials import ENDLESS, wait_for_first_fill
from tests.e2e.stored_book import read_book

SPEED = 5.0        # bars per second during the outage
SETTLE_S = 5.0     # of a reachable store between and after outages


def run_through_outages(sandbox: Sandbox, url: str, outages: list[tuple[object, float]]) -> list[str]:
    """Run an engine through each (outage, seconds) in turn, stop it with SIGTERM, restart it
    cleanly, and return the problems found: fills lost or doubled, missing performance rows."""
    run = sandbox.start(url, bars=ENDLESS, speed=SPEED)
    problems = [] if wait_for_first_fill(run) else ["the engine printed no fill line"]
    for outage, seconds in outages:
        outage.begin()
        try:
            time.sleep(seconds)
            if run.process.poll() is not None:
                problems.append(f"the engine ended during the {outage.name} (exit {run.returncode}): "
                                f"{run.stderr_text()[-500:]}")
        finally:
            outage.end()
        time.sleep(SETTLE_S)
    if run.terminate() != 0:
        problems.append(f"the engine exited {run.returncode} on SIGTERM: {run.stderr_text()[-500:]}")
    bars = run.output().bars
    clean = sandbox.run(url, bars=5, speed=300)
    book = read_book(url)
    if bars:
        problems += performance_continuous(book, bars[0].ts, bars[-1].ts) + printed_bars_stored(bars, book)
    return (problems + store_holds_exactly(sandbox.fills(), book) + book_consistent(book)
            + engine_agrees(clean.output().summary, book))
