"""A restart whose MariaDB answers but cannot take the start-up replay yet (its writes time
out behind another transaction's locks): the book the database holds then is older than the
fills already printed. The engine must not trade on it; once the replay is in, it reads the
book back and the ledger's invariants hold."""

import pymysql

from tests.e2e.kill_trials import wait_for_first_fill
from tests.e2e.ledger_checks import (assert_clean, book_consistent, engine_agrees, printed_bars_stored,
                                     printed_fills_stored)
from tests.e2e.stored_book import read_book

REFUSED = "not trading until the book is read back from the store"


def _block_writes(shared_mariadb, url: str) -> pymysql.Connection:
    conn = shared_mariadb.admin(url.rsplit("/", 1)[1])
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("SELECT * FROM trades FOR UPDATE")  # every record and gap: no fill gets in
    return conn


def test_a_restart_does_not_trade_on_a_book_its_database_has_not_caught_up_on(sandbox, shared_mariadb,
                                                                              shared_mariadb_url):
    url = shared_mariadb_url
    first = sandbox.start(url, bars=1_000_000, speed=100)
    assert wait_for_first_fill(first), first.stderr_text()[-2000:]
    blocker = _block_writes(shared_mariadb, url)
    try:
        shown = len(first.output().fills)
        assert first.wait_for(lambda out: len(out.fills) >= shown + 3, timeout=60), "no fill while writes waited"
        first.kill9()  # the fills printed since the block are in the ledger and the spool only
        # Long enough (20 s) to outlast the engine's retries of the read-back, which back off to 10 s:
        # at 1000 bars it could end before its next try, never having read its book.
        restart = sandbox.start(url, bars=6000, speed=300)
        # Its start-up replay times out; then it either holds its book back or (wrongly) trades on it.
        restart.wait_for(lambda out: bool(out.bars) or any(REFUSED in line for line in out.lines), timeout=90)
    finally:
        blocker.rollback()
        blocker.close()
    assert restart.wait() == 0, restart.stderr_text()[-2000:]
    book = read_book(url)
    output = restart.output()
    bars = [bar for run in sandbox.runs for bar in run.output().bars]
    assert_clean(printed_fills_stored(sandbox.fills(), book) + printed_bars_stored(bars, book)
                 + book_consistent(book) + engine_agrees(output.summary, book)
                 + ([] if any(REFUSED in line for line in output.lines) else
                    ["the restart did not hold its book back while the replay was refused"]))
