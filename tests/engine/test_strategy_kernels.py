"""Both strategy kernels, one FactorStream per symbol and one FactorPanel, give the engine the
same results to the bit, from the same warm-up and the same live bars (a bad one included)."""
import pytest

from engine import signals
from engine.feeds.sim import SimFeed
from engine.signals import StrategyRunner
from tests.engine.support import SYMBOLS, make_config


async def test_streams_and_panel_agree_through_warm_up_and_live_bars():
    config = make_config(universe={"symbol_list": SYMBOLS[:6]})
    feed = SimFeed(config, paced=False)
    await feed.start()
    history = feed.warmup_history(10**6)
    runners = [StrategyRunner(feed.symbols, config.strategy_params(), kernel=k) for k in ("streams", "panel")]
    for runner in runners:
        runner.warm(history.stamps, history.strategy_inputs(), history.present)
    feed.inject("bad", "SOLUSDT")
    n = 0
    async for minute in feed.stream():
        bars = {b.symbol: b for b in minute}
        (streams, stream_errors), (panel, panel_errors) = (r.update(bars) for r in runners)
        assert stream_errors.keys() == panel_errors.keys()
        assert streams.keys() == panel.keys()
        for symbol, result in streams.items():
            assert dict(result) == dict(panel[symbol]), (n, symbol)
        assert all(runners[0].progress(s) == runners[1].progress(s) for s in feed.symbols)
        n += 1
        if n == 1:
            assert set(stream_errors) == {"SOLUSDT"}
        if n == 60:
            break
    assert all(result is not None for result in streams.values())


@pytest.mark.parametrize("size, kernel", [(1, "streams"), (signals.STREAMS_UP_TO, "streams"),
                                          (signals.STREAMS_UP_TO + 1, "panel"), (500, "panel")])
def test_the_kernel_follows_the_universes_size(size, kernel):
    assert StrategyRunner([f"S{i}USDT" for i in range(size)], {}).kernel == kernel
