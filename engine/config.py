"""trifactor's configuration: a YAML file loaded into typed, documented dataclasses.

Every field's `doc` metadata is the reference text: `trifactor config init` writes it
as comments and the README's config reference is generated from the same place.
Validation errors name the file, the key and what is wrong.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit

MODES = ("paper", "testnet", "live")
DEFAULT_INSTANCE = "default"
# An instance name goes into lock file names and lock names, so it stays a plain token.
INSTANCE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MARKETS = ("sim", "binance", "replay")
SECRET_KEYS = {"api_key", "api_secret", "testnet_api_key", "testnet_api_secret", "password"}
# Keys of the original bot's config that no longer mean anything here, with what replaced them.
RETIRED_KEYS = {
    "binance": "API keys come from TRIFACTOR_API_KEY / TRIFACTOR_API_SECRET (testnet: TRIFACTOR_TESTNET_*) "
               "or a 0600 secrets file (`exchange.secrets_file`)",
    "database": "use `storage.url` (mysql://user@host:port/db) and TRIFACTOR_DB_PASSWORD",
    "web_ui": "the web UI is replaced by the terminal desk (`ui`)",
    "update_interval_seconds": "the engine is driven by bar closes, not a poll interval",
    "app_name": "remove it",
}


class ConfigError(Exception):
    """Configuration problems, one sentence each naming the file and key; the message has
    one line per problem."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def opt(default: Any, doc: str, *, choices: tuple = (), min: float | None = None,
        max: float | None = None, factory: Any = None) -> Any:
    meta = {"doc": doc, "choices": choices, "min": min, "max": max}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LINKUSDT"]


@dataclass(frozen=True)
class UniverseConfig:
    type: str = opt("list", "Which symbols to trade: `list` (symbol_list) or `all` active USDT perpetuals "
                    "(on the simulated market: its first `sim.symbols`).",
                    choices=("list", "all"))
    symbol_list: list = opt(None, "Symbols traded when type is `list`.", factory=lambda: list(DEFAULT_SYMBOLS))
    exclude_symbols: list = opt(None, "Symbols never traded, whatever the type.", factory=list)


@dataclass(frozen=True)
class StrategyConfig:
    lookback_long: int = opt(240, "General long lookback (bars): quantile thresholds, vol regime mean, drawdown.", min=2)
    lookback_medium: int = opt(120, "Window of the final volatility standardisation (bars).", min=2)
    lookback_short: int = opt(24, "Return horizon, fast moving average and trend span (bars).", min=2)
    funding_roll: int = opt(144, "Funding-rate z-score window (bars).", min=2)
    mr_roll: int = opt(96, "Mean-reversion return z-score window (bars).", min=2)
    flow_roll: int = opt(120, "Taker-flow z-score window (bars).", min=2)
    perf_roll: int = opt(192, "Window of each component's rolling performance (bars).", min=2)
    perf_smooth_span: int = opt(60, "EWM span smoothing the rolling performance.", min=1)
    funding_weight_base: float = opt(0.5, "Base weight of the funding component.", min=0, max=1)
    mr_weight_base: float = opt(0.3, "Base weight of the mean-reversion component.", min=0, max=1)
    flow_weight_base: float = opt(0.2, "Base weight of the taker-flow component.", min=0, max=1)
    change_threshold_mult: float = opt(0.4, "A new target replaces the previous one only when it moves by more "
                                       "than this times the rolling std of the standardised factor.", min=0)
    change_threshold_window: int = opt(24, "Window (bars) of that rolling std.", min=2)


@dataclass(frozen=True)
class RiskConfig:
    daily_loss_limit: float = opt(0.05, "Breaker: flatten and halt entries when equity falls this fraction "
                                  "below the day's opening equity (UTC). 0 disables.", min=0, max=1)
    max_drawdown: float = opt(0.15, "Breaker: flatten and halt entries when equity falls this fraction "
                              "below its peak. 0 disables.", min=0, max=1)
    rebalance_band_usd: float = opt(20.0, "Hysteresis: no trade for a notional change smaller than "
                                    "max(min notional, this).", min=0)


@dataclass(frozen=True)
class PaperConfig:
    taker_fee: float = opt(0.0005, "Paper taker fee rate (Binance VIP0: 0.05 %).", min=0, max=0.01)
    maker_fee: float = opt(0.0002, "Paper maker fee rate (Binance VIP0: 0.02 %).", min=0, max=0.01)
    slippage_bps: float = opt(1.0, "Paper fills are this many basis points worse than the current price.",
                              min=0, max=500)


@dataclass(frozen=True)
class SimConfig:
    seed: int = opt(42, "Seed of the simulated market; the same seed gives the same market.", min=0)
    speed: float = opt(4.0, "Simulated bars per second (the accelerated clock).", min=0.01, max=1000)
    unpaced: bool = opt(False, "Play the simulated or replayed market as fast as the engine takes the bars, "
                        "ignoring `speed` (`--speed max`).")
    warmup_bars: int = opt(900, "History generated before the first live bar, so every factor is defined.",
                           min=0, max=20000)
    symbols: int = opt(500, "How many symbols `universe.type: all` trades on the simulated market: the 8 "
                       "well-known ones first, then generated ones, each with its own trading rules and "
                       "volatility.", min=1, max=5000)


@dataclass(frozen=True)
class ExchangeConfig:
    base_url: str | None = opt(None, "Rewrite every Binance REST and websocket URL to this base "
                               "(a proxy, a mirror). Empty: Binance's own endpoints.")
    margin_mode: str = opt("isolated", "Margin mode set per symbol at start (testnet/live).",
                           choices=("isolated", "cross"))
    timeout_ms: int = opt(10000, "Timeout of one REST request (ms).", min=100, max=120000)
    reconcile_interval_s: float = opt(60.0, "Seconds between reconciliations with the exchange.", min=1)
    stale_after_s: float = opt(75.0, "A kline stream with no closed bar for this many seconds is stale: "
                               "said so (the desk and headless runs) and covered over REST.", min=1, max=3600)
    secrets_file: str | None = opt(None, "Optional KEY=value file (mode 0600) with TRIFACTOR_API_KEY, "
                                   "TRIFACTOR_API_SECRET, TRIFACTOR_TESTNET_API_KEY, "
                                   "TRIFACTOR_TESTNET_API_SECRET, TRIFACTOR_DB_PASSWORD.")


@dataclass(frozen=True)
class FlowConfig:
    source: str = opt("kline", "Taker flow from the klines' taker-buy volume (`kline`, as the seed) or from "
                      "aggregated trades (`aggtrades`).", choices=("kline", "aggtrades"))


@dataclass(frozen=True)
class StorageConfig:
    url: str | None = opt(None, "Store URL: `sqlite:///path` or `mysql://user@host:port/db` (password from "
                          "TRIFACTOR_DB_PASSWORD). Empty: SQLite in the XDG data directory.")
    signals_retention_days: float = opt(30.0, "Signals older than this are deleted (0 keeps them forever).", min=0)
    mysql_tls: bool = opt(False, "Use TLS to MariaDB/MySQL.")
    mysql_ca_file: str | None = opt(None, "CA bundle for MariaDB/MySQL TLS.")
    batch_size: int = opt(500, "Rows per batched insert.", min=1, max=100000)


@dataclass(frozen=True)
class UiConfig:
    theme: str = opt("dark", "Theme at first start (the last chosen theme is remembered).")
    max_fps: float = opt(10.0, "Most redraws per second.", min=1, max=60)
    keys: dict = opt(None, "Keymap overrides: binding id -> key, e.g. `flatten_all: ctrl+f`.", factory=dict)


@dataclass(frozen=True)
class AlertsConfig:
    command: str | None = opt(None, "Program run on each alert (breaker trip, engine stop, store down, "
                              "mismatch, flatten not flat, stale feed), e.g. a script that sends a Telegram or "
                              "ntfy message: its arguments are the alert's kind and text, its standard input "
                              "the alert as one line. Unset: the bell and the highlighted header only.")
    timeout_s: float = opt(10.0, "Seconds an alert command may run before it is stopped.", min=0.1, max=300)


@dataclass(frozen=True)
class Config:
    trading_mode: str = opt("paper", "Trading mode at start: paper, testnet (Binance demo trading) or live.",
                            choices=MODES)
    instance: str = opt(DEFAULT_INSTANCE, "This engine's name in the store: every row carries it, and only one engine "
                        "per instance may run on a store. Engines sharing a MariaDB database need different "
                        "names (1-32 letters, digits, `_`, `.` or `-`).")
    market: str = opt("sim", "Market data: `sim` (embedded simulated market), `binance`, `replay`.",
                      choices=MARKETS)
    replay_path: str | None = opt(None, "CSV file or directory of CSV files for market `replay`.")
    log_level: str = opt("INFO", "Log level of the log file.",
                         choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    kline_interval: str = opt("1m", "Bar interval. The strategy is specified on 1-minute bars.", choices=("1m",))
    data_fetch_limit: int = opt(1000, "Warm-up bars fetched per symbol at start (paginated).", min=1, max=20000)
    leverage: int = opt(5, "Leverage per symbol; target notional = clip(factor, -1, 1) x leverage x equity.",
                        min=1, max=125)
    initial_capital_usd: float = opt(10000.0, "Starting capital of paper mode (USDT).", min=1)
    max_position_risk_per_trade: float = opt(0.01, "Per-symbol cap: margin of one position at most this "
                                             "fraction of equity (|notional| <= this x leverage x equity).",
                                             min=0, max=1)
    max_total_risk_exposure: float = opt(0.10, "Gross cap: summed margin at most this fraction of equity; "
                                         "targets scale down proportionally above it.", min=0, max=10)
    target_signal_volatility: float = opt(0.2, "Target volatility of the standardised factor.", min=0)
    universe: UniverseConfig = opt(None, "Trading universe.", factory=UniverseConfig)
    strategy_v2: StrategyConfig = opt(None, "Strategy parameters (the seed's defaults).", factory=StrategyConfig)
    risk: RiskConfig = opt(None, "Breakers and hysteresis.", factory=RiskConfig)
    paper: PaperConfig = opt(None, "Paper fills.", factory=PaperConfig)
    sim: SimConfig = opt(None, "The embedded simulated market.", factory=SimConfig)
    exchange: ExchangeConfig = opt(None, "Binance USDⓈ-M through ccxt.", factory=ExchangeConfig)
    flow: FlowConfig = opt(None, "Taker flow source.", factory=FlowConfig)
    storage: StorageConfig = opt(None, "The store.", factory=StorageConfig)
    ui: UiConfig = opt(None, "The desk.", factory=UiConfig)
    alerts: AlertsConfig = opt(None, "Operator alerts.", factory=AlertsConfig)

    def strategy_params(self) -> dict:
        """The mapping `strategy.StrategyParams` takes."""
        params = dataclasses.asdict(self.strategy_v2)
        params["target_signal_volatility"] = self.target_signal_volatility
        return params

    def symbols(self) -> list[str]:
        excluded = set(self.universe.exclude_symbols)
        return [s for s in self.universe.symbol_list if s not in excluded]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the field type `tp`; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                # NaN compares false with every bound, so it would pass them and switch a limit off.
                raise ConfigError(f"{where}: {value} is not a finite number")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [v.strip().upper() for v in value]
        raise ConfigError(f"{where}: expected a list of symbols, got {value!r}")
    elif tp is dict:
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        raise ConfigError(f"{where}: expected a mapping of names to strings, got {value!r}")
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def _build(cls: type, data: Any, prefix: str, source: str, problems: list[str]) -> Any:
    """The dataclass `cls` from `data`; every problem found is added to `problems` and the
    key it concerns keeps its default, so one pass reports them all."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{source}: `{prefix.rstrip('.') or 'top level'}` must be a mapping")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if not prefix and key in RETIRED_KEYS:
            problems.append(f"{source}: key `{key}` is no longer used: {RETIRED_KEYS[key]}")
        elif key in SECRET_KEYS:
            problems.append(
                f"{source}: `{prefix}{key}` holds a secret; secrets are read only from environment "
                f"variables or a 0600 secrets file (see `exchange.secrets_file`)"
            )
        elif key not in fields:
            problems.append(f"{source}: unknown key `{prefix}{key}` (known: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            continue
        tp = hints[name]
        where = f"{source}: `{prefix}{name}`"
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, data[name], f"{prefix}{name}.", source, problems)
            continue
        try:
            value = _coerce(data[name], tp, where)
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        problem = _out_of_bounds(value, f.metadata, where)
        if problem:
            problems.append(problem)
            continue
        kwargs[name] = value
    return cls(**kwargs)


def _out_of_bounds(value: Any, meta: Any, where: str) -> str | None:
    if meta.get("choices") and value not in meta["choices"]:
        return f"{where}: {value!r} is not one of {', '.join(map(str, meta['choices']))}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if meta.get("min") is not None and value < meta["min"]:
            return f"{where}: {value} is below the minimum {meta['min']}"
        if meta.get("max") is not None and value > meta["max"]:
            return f"{where}: {value} is above the maximum {meta['max']}"
    return None


URL_SCHEMES = ("http", "https", "ws", "wss")


def _check(cfg: Config, source: str) -> list[str]:
    """Problems that involve more than one key, or the shape of a value."""
    problems = []
    if not INSTANCE_NAME.match(cfg.instance):
        problems.append(f"{source}: `instance` {cfg.instance!r} must be 1-32 letters, digits, _, . or -")
    if not cfg.symbols() and cfg.universe.type == "list":
        problems.append(f"{source}: `universe.symbol_list` leaves no symbol to trade")
    bad = [s for s in cfg.universe.symbol_list if not s.isalnum()]
    if bad:
        problems.append(f"{source}: `universe.symbol_list` has malformed symbols: {', '.join(bad)}")
    if cfg.market == "replay" and not cfg.replay_path:
        problems.append(f"{source}: `market` is replay but `replay_path` is not set")
    s = cfg.strategy_v2
    if not (s.lookback_short < s.lookback_long):
        problems.append(f"{source}: `strategy_v2.lookback_short` must be below `strategy_v2.lookback_long`")
    base = cfg.exchange.base_url
    if base:
        parts = urlsplit(base)
        if parts.scheme not in URL_SCHEMES or not parts.hostname:
            problems.append(f"{source}: `exchange.base_url` must be an http://, https://, ws:// or wss:// URL "
                            f"with a host")
    url = cfg.storage.url
    if url and not (url.startswith("sqlite:///") or url.startswith("mysql://")):
        problems.append(f"{source}: `storage.url` must start with sqlite:/// or mysql://")
    elif url and url.startswith("mysql://") and ":" in unquote(urlsplit(url).netloc.rpartition("@")[0]):
        # Decoded first: `user%3Apassword` is a password too. Never repeated here.
        problems.append(
            f"{source}: `storage.url` holds a password; set TRIFACTOR_DB_PASSWORD or use the secrets file"
        )
    return problems


Check = Callable[["Config", str], list[str]]


def from_mapping(data: Any, source: str = "<config>", problems: list[str] | None = None,
                 checks: Iterable[Check] = ()) -> Config:
    """Validate `data`; raises one ConfigError listing every problem (with any in `problems`).

    `checks` are more validators (the desk's keymap check) run in the same pass.
    """
    problems = list(problems or [])
    cfg = _build(Config, data, "", source, problems)
    problems += _check(cfg, source)
    for check in checks:
        problems += check(cfg, source)
    if problems:
        raise ConfigError(*problems)
    return cfg


def merge(base: dict, overrides: dict) -> dict:
    """Nested merge of `overrides` (e.g. from the command line) into `base`."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load(path: str | Path | None, overrides: dict | None = None, checks: Iterable[Check] = ()) -> Config:
    """Load and validate a config file (None: the defaults), then apply `overrides`."""
    if path is None:
        return from_mapping(merge({}, overrides or {}), "<defaults>" if not overrides else "command line",
                            checks=checks)
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist (create one with `trifactor config init {p}`)") from None
    except OSError as e:
        raise ConfigError(f"config file {p} cannot be read: {e.strerror}") from None
    from engine.config_yaml import parse  # PyYAML only when there is a file to read

    data, duplicates = parse(text, str(p))
    if data is not None and not isinstance(data, dict):
        raise ConfigError(*duplicates, f"{p}: the top level must be a mapping of keys to values")
    return from_mapping(merge(data or {}, overrides or {}), str(p), duplicates, checks)


def sample_yaml() -> str:
    """A commented sample with every key at its default."""
    lines = ["# trifactor configuration. Every key is optional; shown here at its default.",
             "# Secrets (API keys, DB password) never go here: use environment variables",
             "# or a 0600 secrets file (exchange.secrets_file).", ""]

    import yaml

    def emit(cls: type, obj: Any, indent: int) -> None:
        pad = "  " * indent
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            lines.append(f"{pad}# {f.metadata['doc']}")
            if dataclasses.is_dataclass(value):
                lines.append(f"{pad}{f.name}:")
                emit(type(value), value, indent + 1)
            else:
                dumped = yaml.safe_dump({f.name: value}, default_flow_style=True, sort_keys=False).strip()
                lines.append(f"{pad}{dumped[1:-1]}")
        lines.append("")

    emit(Config, Config(), 0)
    return "\n".join(lines)


def reference_rows() -> list[tuple[str, str, str]]:
    """(key, default, doc) for every key: the README's config reference."""
    import yaml

    rows: list[tuple[str, str, str]] = []

    def walk(cls: type, obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(type(value), value, f"{prefix}{f.name}.")
            else:
                rows.append((f"{prefix}{f.name}", yaml.safe_dump(value, default_flow_style=True).strip()
                             .removesuffix("...").strip(), f.metadata["doc"]))

    walk(Config, Config(), "")
    return rows
