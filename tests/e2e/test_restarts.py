"""Three clean restarts in a row on one store: the store holds exactly the fills the engine
printed, once each; positions are the sums of their fills; the equity identity holds."""
from tests.e2e.ledger_checks import (assert_clean, book_consistent, engine_agrees, printed_bars_stored,
                                     store_holds_exactly)
from tests.e2e.stored_book import read_book


def test_three_clean_restarts_keep_an_exact_ledger(sandbox, store_url):
    problems = []
    for n in range(1, 4):
        run = sandbox.run(store_url, bars=60, speed=300)
        book = read_book(store_url)
        found = (store_holds_exactly(sandbox.fills(), book) + printed_bars_stored(run.output().bars, book)
                 + book_consistent(book) + engine_agrees(run.output().summary, book))
        problems += [f"after run {n}: {p}" for p in found]
    assert_clean(problems)
