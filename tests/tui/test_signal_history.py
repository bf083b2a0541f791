"""The chart's memory: the store's earlier bars first, then what this run sent."""
from tests.storage import factories as f
from tui.history import SignalHistory


def test_stored_bars_come_before_the_live_ones_and_are_not_repeated():
    history = SignalHistory(bars=4)
    history.record(f.signal_update("BTCUSDT", 10, 0.5))
    history.load({"BTCUSDT": [(f.at(m), 100.0 + m, 0.1) for m in (7, 8, 9, 10)],
                  "ETHUSDT": [(f.at(9), 50.0, None), (f.at(10), 51.0, 0.2)]})
    assert history.series("BTCUSDT") == ([f.at(m) for m in (7, 8, 9, 10)], [107.0, 108.0, 109.0, 110.0],
                                         [0.1, 0.1, 0.1, 0.5])
    assert history.series("ETHUSDT") == ([f.at(10)], [51.0], [0.2])  # a bar without a factor is left out
    assert not history.record(f.signal_update("ETHUSDT", 10))  # already shown from the store
    assert history.record(f.signal_update("ETHUSDT", 11))
