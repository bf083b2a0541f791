"""Long store outages while an engine runs lose nothing: 60 s of a stopped MariaDB then 60 s
of a killed one (the test's private server), and 30 s of an exclusively locked SQLite file.
The SQLite engine runs beside the MariaDB one, so the suite waits for the outages once."""
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.engine_process import Sandbox
from tests.e2e.ledger_checks import assert_clean
from tests.e2e.outage_runs import run_through_outages
from tests.e2e.outages import MariaDBKilled, MariaDBStopped, SqliteLocked


def test_long_outages_lose_nothing(tmp_path, private_mariadb, private_mariadb_url):
    sqlite_url = f"sqlite:///{tmp_path / 'store.db'}"
    homes = {name: Sandbox(tmp_path / name) for name in ("mariadb", "sqlite")}
    try:
        with ThreadPoolExecutor(2) as pool:
            mariadb = pool.submit(run_through_outages, homes["mariadb"], private_mariadb_url, [
                (MariaDBStopped(private_mariadb), 60.0), (MariaDBKilled(private_mariadb), 60.0)])
            sqlite = pool.submit(run_through_outages, homes["sqlite"], sqlite_url, [(SqliteLocked(sqlite_url), 30.0)])
            problems = ([f"MariaDB: {p}" for p in mariadb.result()] + [f"SQLite: {p}" for p in sqlite.result()])
    finally:
        for home in homes.values():
            home.close()
    assert_clean(problems)
