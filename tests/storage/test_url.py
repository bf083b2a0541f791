from pathlib import Path

import pytest

from storage import StoreError
from storage.url import parse_url


def test_sqlite_absolute_and_relative_paths():
    assert parse_url("sqlite:////var/lib/tf.db").path == Path("/var/lib/tf.db")
    assert parse_url("sqlite:///tf.db").path == Path("tf.db")


def test_default_is_sqlite_in_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert parse_url(None).path == tmp_path / "trifactor" / "trifactor.db"


def test_mysql_parts():
    u = parse_url("mysql://bot@db.example:3307/trading")
    assert (u.dialect, u.user, u.host, u.port, u.database) == ("mysql", "bot", "db.example", 3307, "trading")
    assert parse_url("mysql://bot@db/trading").port == 3306
    sock = parse_url("mysql://root@localhost/t?unix_socket=/run/mysqld/mysqld.sock")
    assert sock.unix_socket == "/run/mysqld/mysqld.sock"


def test_password_never_shown():
    u = parse_url("mysql://bot:hunter2-secret@db:3306/trading")
    assert u.password == "hunter2-secret"
    for text in (u.redacted, str(u), repr(u)):
        assert "hunter2" not in text
    assert u.redacted == "mysql://bot:***@db:3306/trading"


@pytest.mark.parametrize("url, words", [
    ("postgres://x@y/z", "not understood"),
    ("sqlite:///", "needs a file path"),
    ("sqlite:///:memory:", "needs a file path"),
    ("mysql://db:3306/trading", "needs a user"),
    ("mysql://bot:pw-in-url@db:3306/", "database name"),
    ("mysql://bot@db:33x6/trading", "port is not a number"),
    ("mysql://bot@db/trading?sslmode=on", "unknown parameter(s) sslmode"),
])
def test_bad_urls_are_named(url, words):
    with pytest.raises(StoreError) as e:
        parse_url(url)
    assert words in str(e.value)
    assert "pw-in-url" not in str(e.value)
