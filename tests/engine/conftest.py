import pytest

from engine.exchange_ban import every_ban


@pytest.fixture(autouse=True)
def no_ban_outlives_its_test():
    """Bans are kept per host and port, and a later test's fake exchange may get the same port."""
    yield
    for ban in every_ban():
        ban.lift()
