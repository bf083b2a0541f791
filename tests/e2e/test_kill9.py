"""Randomized kill -9 trials per backend: every printed fill survives, none is doubled, no
order is left `new`, positions and equity stay consistent. Two lanes run trials side by
side, each with its own store (and its own MariaDB server, which its outages stop or kill).
Set E2E_KILL_SEED to replay a run's trials."""
import os
import random
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import database_name
from tests.e2e.engine_process import Sandbox
from tests.e2e.kill_trials import plan_trials, run_trial
from tests.e2e.outages import outages_for

TRIALS = 20
LANES = 2


def _trial(backend, plan, root, server) -> list[str]:
    url = f"sqlite:///{root / 'store.db'}" if backend == "sqlite" else server.url(database_name())
    sandbox = Sandbox(root)
    try:
        return run_trial(plan, sandbox, url, outages_for(url, server))
    finally:
        sandbox.close()
        if server is not None:
            server.drop(url.rsplit("/", 1)[1])


@pytest.mark.parametrize("backend", ["sqlite", "mysql"])
def test_kill9_trials_lose_and_double_nothing(backend, tmp_path, request, capsys):
    seed = int(os.environ.get("E2E_KILL_SEED") or secrets.randbelow(10**9))
    plans = plan_trials(random.Random(seed), TRIALS)
    servers = request.getfixturevalue("private_mariadbs") if backend == "mysql" else [None] * LANES

    def lane(n: int) -> list[tuple[int, list[str]]]:
        return [(i, _trial(backend, plans[i], tmp_path / f"trial-{i}", servers[n]))
                for i in range(n, TRIALS, LANES)]

    with ThreadPoolExecutor(LANES) as pool:
        results = sorted(r for lane_results in pool.map(lane, range(LANES)) for r in lane_results)
    failed = [(i, problems) for i, problems in results if problems]
    with capsys.disabled():
        print(f"\nkill -9 trials ({backend}, E2E_KILL_SEED={seed}): {TRIALS - len(failed)}/{TRIALS} clean")
    assert not failed, f"E2E_KILL_SEED={seed} (each trial's output, logs and book: {tmp_path})\n" + "\n".join(
        f"trial {i} {plans[i]}:\n  " + "\n  ".join(problems) for i, problems in failed)
