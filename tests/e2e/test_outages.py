"""Long store outages while an engine runs lose nothing: 60 s of a stopped MariaDB, 60 s of
a killed one (the test's private server), 30 s of an exclusively locked SQLite file."""
from tests.e2e.ledger_checks import assert_clean
from tests.e2e.outage_runs import run_through_outages
from tests.e2e.outages import MariaDBKilled, MariaDBStopped, SqliteLocked


def test_a_stopped_then_killed_mariadb_loses_nothing(sandbox, private_mariadb, private_mariadb_url):
    assert_clean(run_through_outages(sandbox, private_mariadb_url, [
        (MariaDBStopped(private_mariadb), 60.0), (MariaDBKilled(private_mariadb), 60.0)]))


def test_an_exclusively_locked_sqlite_file_loses_nothing(sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert_clean(run_through_outages(sandbox, url, [(SqliteLocked(url), 30.0)]))
