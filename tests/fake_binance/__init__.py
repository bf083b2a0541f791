"""A fake Binance USDⓈ-M exchange for tests and benchmarks (REST and websocket streams on 127.0.0.1)."""
from tests.fake_binance.server import API_KEY, API_SECRET, FakeBinance, RecordedRequest

__all__ = ["API_KEY", "API_SECRET", "FakeBinance", "RecordedRequest"]
