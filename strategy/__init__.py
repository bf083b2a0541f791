"""The three-factor pipeline (funding, mean reversion, taker flow) with regime
and risk scaling, as a batch over a history, a per-symbol stream and a
many-symbol panel.

- ``compute_factors(df, params=None)``: every bar of a history at once
  (``target_factors``: only the target factor, for a backtest).
- ``FactorStream(params=None).update(bar)``: one symbol, bar by bar.
- ``FactorPanel(symbols, params=None).update({symbol: bar})``: many symbols per cycle.

All three give the same numbers. Pure numpy/pandas: no I/O, no logging.
"""

from .errors import InvalidBarError
from .panel import FactorPanel, PanelRow
from .params import StrategyParams, warmup_bars
from .schema import DETAIL_KEYS, FACTOR_KEYS, INPUT_COLUMNS, STREAM_KEYS
from .stream import FactorStream

__all__ = [
    "DETAIL_KEYS",
    "FACTOR_KEYS",
    "INPUT_COLUMNS",
    "STREAM_KEYS",
    "FactorPanel",
    "FactorStream",
    "InvalidBarError",
    "PanelRow",
    "StrategyParams",
    "compute_factors",
    "target_factors",
    "warmup_bars",
]


def __getattr__(name: str):
    # The batch pipeline needs pandas, which the live engine does not: imported when first used.
    if name in ("compute_factors", "target_factors"):
        from . import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
