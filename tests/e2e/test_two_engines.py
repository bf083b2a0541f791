"""One writer per book: a second engine on the same store and instance is refused at start;
engines with different instance names share one MariaDB database with separate books."""
from pathlib import Path

from tests.e2e.engine_process import Sandbox
from tests.e2e.kill_trials import ENDLESS
from tests.e2e.ledger_checks import assert_clean, book_consistent, engine_agrees, store_holds_exactly
from tests.e2e.stored_book import read_book

STARTUP_S = 60.0


def _store_name(url: str) -> str:
    return Path(url[len("sqlite:///"):]).name if url.startswith("sqlite:///") else url.rsplit("/", 1)[1]


def test_a_second_engine_on_the_same_store_and_instance_is_refused(sandbox, store_url, tmp_path):
    first = sandbox.start(store_url, bars=ENDLESS, speed=5)
    assert first.wait_for(lambda out: bool(out.bars), timeout=STARTUP_S), first.stderr_text()[-2000:]
    other_home = Sandbox(tmp_path / "other")
    try:
        second = other_home.start(store_url, bars=20, speed=300)
        code, message = second.wait(), second.stderr_text()
        shown = "\n".join(second.output().lines[-3:])
    finally:
        other_home.close()
    assert code == 2, f"the second engine exited {code}: {message[-2000:]}{shown}"
    assert _store_name(store_url) in message and str(first.pid) in message, message
    assert "Traceback" not in message
    assert first.process.poll() is None, "the first engine stopped"
    assert first.terminate() == 0, first.stderr_text()[-2000:]
    book = read_book(store_url)
    assert_clean(store_holds_exactly(sandbox.fills(), book) + book_consistent(book)
                 + engine_agrees(first.output().summary, book))


def test_two_instances_on_one_mariadb_keep_separate_books(sandbox, shared_mariadb_url):
    configs = {name: sandbox.write_config(f"instance: {name}\n", f"{name}.yaml") for name in ("a", "b")}
    problems = []
    for round_ in (1, 2):  # both run side by side, then both restart
        runs = {name: sandbox.start(shared_mariadb_url, bars=60, speed=60, seed=seed, config=configs[name])
                for name, seed in (("a", 7), ("b", 8))}
        for name, run in runs.items():
            assert run.wait() == 0, f"instance {name}: {run.stderr_text()[-2000:]}"
        for name, run in runs.items():
            book = read_book(shared_mariadb_url, instance=name)
            printed = [f for r in sandbox.runs if r.config_name == f"{name}.yaml" for f in r.output().fills]
            found = (store_holds_exactly(printed, book) + book_consistent(book)
                     + engine_agrees(run.output().summary, book))
            problems += [f"round {round_}, instance {name}: {p}" for p in found]
    assert_clean(problems)
