"""Connection problems become one clear sentence naming the URL, never the password."""
import socket
import uuid

import pytest

from engine.config import StorageConfig
from engine.secrets import Secrets
from storage import StoreError, db_check, open_store, status_report
from tests.storage.mariadb import drop_database, fresh_database
from tests.storage.proxy import TcpProxy, free_port

PASSWORD = "pw-9f3a-never-shown"
WITH_PASSWORD = Secrets.load(environ={"TRIFACTOR_DB_PASSWORD": PASSWORD})


async def start_error(url: str, secrets: Secrets, tmp_path, config: StorageConfig | None = None) -> str:
    store = open_store(url, config or StorageConfig(), secrets, journal_dir=tmp_path / "j", timeout_s=2.0)
    with pytest.raises(StoreError) as e:
        await store.start()
    await store.close()
    return str(e.value)


async def test_wrong_password(mariadb, tmp_path, caplog):
    url = f"mysql://root@{mariadb.host}:{mariadb.port}/tf_never_created"
    if mariadb.unix_socket:
        url += f"?unix_socket={mariadb.unix_socket}"
    message = await start_error(url, WITH_PASSWORD, tmp_path)
    assert "access denied for user 'root'" in message and "TRIFACTOR_DB_PASSWORD" in message
    assert message.startswith("cannot connect to mysql://root@")
    assert PASSWORD not in message and PASSWORD not in caplog.text


async def down_at_start(url: str, secrets: Secrets, tmp_path) -> str:
    """A server that does not answer is waited for: the store starts down and says why."""
    store = open_store(url, StorageConfig(), secrets, journal_dir=tmp_path / "j", timeout_s=2.0)
    await store.start()
    try:
        status = store.status()
        assert status.status == "down"
        with pytest.raises(StoreError, match="has not answered yet"):
            await store.load_state("paper")
        return status.message
    finally:
        await store.close()


async def test_password_in_the_url_is_never_shown(mariadb, tmp_path):
    url = f"mysql://root:{PASSWORD}@127.0.0.1:{free_port()}/tf_never_created"
    message = await down_at_start(url, Secrets.load(environ={}), tmp_path)
    assert "mysql://root:***@127.0.0.1" in message and PASSWORD not in message


async def test_nothing_listening(tmp_path):
    port = free_port()
    message = await down_at_start(f"mysql://root@127.0.0.1:{port}/tf", WITH_PASSWORD, tmp_path)
    assert message.startswith("db down, 0 rows waiting")
    assert f"cannot connect to mysql://root@127.0.0.1:{port}/tf: the server does not answer" in message


async def test_unknown_host(tmp_path, monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "db.nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    message = await start_error("mysql://bot@db.nowhere.invalid:3306/tf", WITH_PASSWORD, tmp_path)
    assert message == "cannot connect to mysql://bot@db.nowhere.invalid:3306/tf: unknown host 'db.nowhere.invalid'"


@pytest.fixture
def limited_user(mariadb):
    """A user with no privileges: it may log in, but not create or use a database."""
    user = f"tf_lim_{uuid.uuid4().hex[:8]}"
    with mariadb.admin() as conn, conn.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s", (PASSWORD,))
    yield user
    with mariadb.admin() as conn, conn.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")


async def test_a_database_the_user_may_not_create(mariadb, limited_user, tmp_path):
    url = mariadb.url("tf_not_allowed").replace("root@", f"{limited_user}@")
    message = await start_error(url, WITH_PASSWORD, tmp_path)
    assert f"user '{limited_user}' has no access to database 'tf_not_allowed'" in message
    assert PASSWORD not in message
    code, report = db_check(url, WITH_PASSWORD)
    assert code == 2 and "tf_not_allowed" in report
    with pytest.raises(StoreError, match=limited_user):
        status_report(url, WITH_PASSWORD)


async def test_tls_asked_for_but_not_offered(mariadb, tmp_path):
    with mariadb.admin() as conn, conn.cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'have_ssl'")
        have_ssl = cur.fetchone()[1]
    proxy = TcpProxy(mariadb.host, mariadb.port, mariadb.unix_socket)  # TCP even where root uses the socket
    await proxy.start()
    name = fresh_database(mariadb)
    url = f"mysql://root@127.0.0.1:{proxy.port}/{name}"
    config = StorageConfig(mysql_tls=True)
    try:
        if have_ssl == "YES":  # a server with TLS: the connection is encrypted, so it works
            store = open_store(url, config, Secrets.load(environ={}), journal_dir=tmp_path / "j")
            await store.start()
            await store.close()
        else:
            message = await start_error(url, Secrets.load(environ={}), tmp_path, config)
            assert "TLS was asked for (storage.mysql_tls) but the server does not offer it" in message
            with mariadb.admin() as conn, conn.cursor() as cur:
                assert not cur.execute("SHOW DATABASES LIKE %s", (name,))  # nothing was done
    finally:
        await proxy.stop()
        drop_database(mariadb, name)


def test_the_store_reads_nothing_before_it_starts(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}", StorageConfig(), Secrets.load(environ={}),
                       journal_dir=tmp_path / "j")
    assert store.status().status == "down" and store.status().message == "not started"


async def test_a_missing_ca_file_is_named(tmp_path):
    config = StorageConfig(mysql_tls=True, mysql_ca_file=str(tmp_path / "nope-ca.pem"))
    message = await start_error("mysql://bot@127.0.0.1:3306/tf", WITH_PASSWORD, tmp_path, config)
    assert "nope-ca.pem" in message and "storage.mysql_ca_file" in message
