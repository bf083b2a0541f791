"""Speed of the store: write throughput, its cost to the engine, and reads at scale.

Run from the repository root:  python benchmarks/storage.py [--bars N] [--days N] [--rounds N] [--no-mysql]

(a) sustained write throughput per backend: bars of 500 symbols' signals (every strategy
    component), published on the bus and written by the store's writer, rows/s
(b) the real engine's cycle (one closed minute: strategy, sizing, paper orders, events) for
    500 symbols on the simulated market, with no store, the SQLite store and the MariaDB
    store attached: at the desk's pace (4 bars/s) and flat out (bars as fast as the engine
    takes them, where the writer and the engine share the CPU). Each sample is a fresh
    process; the configurations take turns, round after round, and each figure is the
    median over rounds, so drift on a busy machine hits all of them alike.
(c) the desk's and `trifactor status`'s reads on N days of 1-minute data for 50 symbols
    (--days 365 builds the full year; that takes a while and some disk)
(d) signals on disk: bytes per signal (one symbol, one bar) including indexes, and the growth
    per day at 500 symbols, for real minutes of the engine (500 symbols on the simulated
    market) written --layout-minutes times: the signals table's own rows (the layout before
    packing), one packed value per symbol and bar, and one packed row per minute (what ships).
    A float32 packing is sized too (lossy: it is not stored).

MariaDB is root@127.0.0.1:3306 (or the server's socket); scratch databases are made and dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # this file is itself called storage.py: the package must win the import

import strategy  # noqa: E402
from engine.config import StorageConfig, from_mapping  # noqa: E402
from engine.engine import Engine  # noqa: E402
from engine.events import EventBus, SignalBatch, SignalUpdate  # noqa: E402
from engine.feeds.sim import SimFeed  # noqa: E402
from engine.secrets import Secrets  # noqa: E402
from engine.wiring import venue_factory_for  # noqa: E402
from storage import open_store, reads  # noqa: E402
from storage.backend import make_backend  # noqa: E402
from storage.migrations.v0001_initial import DETAIL_COLUMNS, FACTOR_COLUMNS  # noqa: E402
from storage.codec import ts_text, utc_naive  # noqa: E402
from storage.ddl import Table, col  # noqa: E402
from storage.mysql_literals import literal  # noqa: E402
from storage.rows import signal_minute_rows, signals_table_rows  # noqa: E402
from storage.schema import migrate  # noqa: E402
from storage.signal_pack import compress, float_matrix, pack_minute, shuffled  # noqa: E402
from storage.url import parse_url  # noqa: E402
from tests.storage.mariadb import Server, drop_database, find_server, fresh_database  # noqa: E402

SECRETS = Secrets.load(environ={})
SYMBOLS = 500
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
# Small strategy windows keep the engine's warm-up short; the per-minute work is the same shape.
FAST_STRATEGY = {"lookback_long": 20, "lookback_medium": 10, "lookback_short": 5, "funding_roll": 10,
                 "mr_roll": 10, "flow_roll": 10, "perf_roll": 10, "perf_smooth_span": 5,
                 "change_threshold_window": 5}


class Target:
    """One backend: its URL, and how to clean up after it."""

    def __init__(self, name: str, url: str, cleanup) -> None:
        self.name, self.url, self.cleanup = name, url, cleanup


def targets(tmp: Path, server: Server | None) -> list[Target]:
    out = []

    def sqlite(tag: str) -> Target:
        path = tmp / f"{tag}.db"
        return Target("sqlite", f"sqlite:///{path}", lambda: None)

    out.append(sqlite)
    if server is not None:
        def mysql(tag: str) -> Target:
            name = fresh_database(server)
            return Target("mariadb", server.url(name), lambda: drop_database(server, name))
        out.append(mysql)
    return out


def signal(symbol: str, ts: datetime, i: int) -> SignalUpdate:
    x = (i % 97) / 97.0
    components = {name: x + n / 1000 for n, name in enumerate(FACTOR_COLUMNS + DETAIL_COLUMNS)}
    components.update(target_changed=bool(i % 2), bars_seen=1000 + i)
    return SignalUpdate(symbol, ts, 100.0 + x, 0.0001, "active", 1.0, components, x, x,
                        Decimal("123.45"), Decimal("100"))


# -- (a) sustained writes ----------------------------------------------------------------------
async def write_throughput(url: str, journal: Path, bars: int) -> tuple[float, float]:
    store = open_store(url, StorageConfig(signals_retention_days=0), SECRETS, journal_dir=journal)
    await store.start()
    bus = EventBus()
    store.attach(bus)
    names = [f"S{n:03d}USDT" for n in range(SYMBOLS)]
    start = time.perf_counter()
    for b in range(bars):
        ts = T0 + timedelta(minutes=b)
        bus.publish(SignalBatch(ts, tuple(signal(name, ts, b + n) for n, name in enumerate(names))))
        await asyncio.sleep(0)  # one bar published: the writer takes what is there
    await store.flush()
    elapsed = time.perf_counter() - start
    await store.close()
    return bars * SYMBOLS / elapsed, elapsed / bars


# -- (b) the engine's cycle ------------------------------------------------------------------------
def engine_config():
    return from_mapping({
        "universe": {"symbol_list": [f"S{n:03d}USDT" for n in range(SYMBOLS)]},
        "strategy_v2": FAST_STRATEGY, "sim": {"warmup_bars": strategy.warmup_bars(FAST_STRATEGY), "seed": 3},
        "risk": {"daily_loss_limit": 0, "max_drawdown": 0},
        "max_position_risk_per_trade": 0.002, "max_total_risk_exposure": 1.0,
    }, "<benchmark>")


async def engine_cycles(url: str | None, journal: Path, bars: int, speed: float | None = None
                        ) -> tuple[list[float], float, float]:
    """Cycle times (s) of `bars` live minutes; wall time per minute; the store's final flush (s)."""
    config = engine_config()
    bus = EventBus()
    store = None
    if url is not None:
        store = open_store(url, config.storage, SECRETS, journal_dir=journal)
        await store.start()
        store.attach(bus)
    feed = SimFeed(config, paced=speed is not None, speed=speed)
    engine: Engine | None = None
    engine = Engine(config, feed=feed, venue_factory=venue_factory_for(config, SECRETS, feed,
                                                                       lambda: engine.market_time()),
                    bus=bus, secrets=SECRETS, store=store)
    cycles: list[float] = []
    live = engine._process_minute
    started: list[float] = []

    async def timed(minute):
        if not started:
            started.append(time.perf_counter())
        t = time.perf_counter()
        await live(minute)
        cycles.append(time.perf_counter() - t)

    engine._process_minute = timed
    await engine.run(max_bars=bars)
    wall = (time.perf_counter() - started[0]) / bars
    flush = 0.0
    if store is not None:
        t = time.perf_counter()
        await store.close()
        flush = time.perf_counter() - t
    return cycles[5:], wall, flush  # the first minutes include one-time work (first orders)


# -- (c) reads at scale --------------------------------------------------------------------------
def build_history(url: str, days: int) -> int:
    """Write `days` of 1-minute signals for 50 symbols, equity and some trades, straight to the backend."""
    backend = make_backend(parse_url(url), StorageConfig(), SECRETS, timeout_s=60)
    backend.open(create=True)
    migrate(backend)
    symbols = [f"S{n:02d}USDT" for n in range(50)]
    minutes = days * 24 * 60
    written = 0
    chunk: list = []
    for m in range(minutes):
        ts = (T0 + timedelta(minutes=m)).replace(tzinfo=None)
        for s in symbols:
            chunk.append(("signal", {"instance": "default", "timestamp": ts, "symbol": s, "final_factor": 0.1, "target_factor": 0.1,
                                     "raw_factor": 0.2, "status": "active", "price": 100.0,
                                     "target_position_usd": Decimal("12.5")}))
        chunk.append(("equity", {"instance": "default", "timestamp": ts, "mode": "paper", "total_equity": Decimal("10000") + m,
                                 "realized_pnl_cumulative": Decimal(0), "unrealized_pnl": Decimal(0),
                                 "total_pnl_cumulative": Decimal(0), "total_fees_cumulative": Decimal(0),
                                 "trade_count_cumulative": m // 10, "funding_cumulative": Decimal(0)}))
        if m % 10 == 0:
            chunk.append(("trade", {"instance": "default", "timestamp": ts, "symbol": symbols[m % 50], "mode": "paper", "side": "BUY",
                                    "price": Decimal("100.5"), "quantity": Decimal("0.1"),
                                    "quote_quantity": Decimal("10.05"), "trade_time": ts, "trade_id": f"t{m}"}))
        if len(chunk) >= 20_000:
            backend.write(chunk)
            written += len(chunk)
            chunk = []
    if chunk:
        backend.write(chunk)
        written += len(chunk)
    backend.close()
    return written


def time_reads(url: str, repeats: int = 20) -> dict[str, float]:
    backend = make_backend(parse_url(url), StorageConfig(), SECRETS, read_only=True)
    backend.open(create=False)
    calls = {
        "last 20 trades": lambda: reads.last_trades(backend, 20, "paper"),
        "positions": lambda: reads.positions(backend, "paper"),
        "equity history (500)": lambda: reads.equity_history(backend, "paper", 500),
        "one symbol's signals (500)": lambda: reads.signal_history(backend, "S07USDT", 500),
    }
    out = {}
    for name, call in calls.items():
        call()  # warm the cache: the desk reads a database that is in use
        samples = []
        for _ in range(repeats):
            t = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t)
        out[name] = statistics.median(samples)
    backend.close()
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def engine_sample(url: str, speed: float, bars: int, tmp: Path) -> dict:
    """One measurement in a fresh interpreter (no state carried over from other samples)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--engine-sample", url, str(speed), str(bars), str(tmp)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"engine sample failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_engine_sample(url: str, speed: float, bars: int, tmp: Path) -> None:
    cycles, wall, flush = asyncio.run(engine_cycles(url if url != "off" else None, tmp / "journal", bars,
                                                    speed or None))
    print(json.dumps({"cycle": statistics.median(cycles), "p95": sorted(cycles)[int(len(cycles) * 0.95) - 1],
                      "wall": wall, "flush": flush}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--engine-sample":
        url, speed, bars, tmp = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
        run_engine_sample(url, speed, bars, tmp)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=40, help="bars of 500 signals in (a), live minutes in (b)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (b)")
    parser.add_argument("--days", type=int, default=7, help="days of 1-minute data for 50 symbols in (c)")
    parser.add_argument("--layout-minutes", type=int, default=1000, help="minutes of 500 signals in (d)")
    parser.add_argument("--only-layout", action="store_true", help="run (d) alone")
    parser.add_argument("--no-mysql", action="store_true", help="SQLite only")
    args = parser.parse_args()
    found = None if args.no_mysql else find_server()
    server = found if isinstance(found, Server) else None
    if found is not None and server is None:
        print(f"(MariaDB left out: {found})")
    tmp = Path(tempfile.mkdtemp(prefix="trifactor-bench-"))
    try:
        run(args, tmp, server)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, server: Server | None) -> None:
    kinds = targets(tmp, server)
    if args.only_layout:
        signal_layouts(args, tmp, kinds)
        return

    print(f"(a) sustained writes: {args.bars} bars x {SYMBOLS} symbols' signals "
          f"({len(FACTOR_COLUMNS + DETAIL_COLUMNS) + 10} columns a row)")
    for make in kinds:
        t = make(f"a-{uuid.uuid4().hex[:6]}")
        try:
            rate, per_bar = asyncio.run(write_throughput(t.url, tmp / f"j-{t.name}-a", args.bars))
        finally:
            t.cleanup()
        print(f"    {t.name:<8} {rate:10,.0f} rows/s   {ms(per_bar)} of writing per bar "
              f"(a bar closes every 60 s: {60 / per_bar:,.0f}x headroom)")

    print(f"\n(b) engine cycle, {SYMBOLS} symbols, paper, {args.bars} live minutes, median of {args.rounds} rounds")
    for speed, label in ((4.0, "at the desk's pace, 4 bars/s"), (0.0, "flat out")):
        samples: dict[str, list[dict]] = {}
        for _ in range(args.rounds):
            for make in [None, *kinds]:
                target = make(f"b-{uuid.uuid4().hex[:6]}") if make else None
                try:
                    sample = engine_sample(target.url if target else "off", speed, args.bars, tmp)
                finally:
                    if target:
                        target.cleanup()
                samples.setdefault(target.name if target else "no store", []).append(sample)
        base = statistics.median(s["cycle"] for s in samples["no store"])
        base_wall = statistics.median(s["wall"] for s in samples["no store"])
        print(f"    {label}:")
        for name, runs in samples.items():
            cycle = statistics.median(s["cycle"] for s in runs)
            p95 = statistics.median(s["p95"] for s in runs)
            wall = statistics.median(s["wall"] for s in runs)
            flush = statistics.median(s["flush"] for s in runs)
            extra = "" if name == "no store" else (f"   ratio {cycle / base:4.2f} (wall {wall / base_wall:4.2f})"
                                                   f"   backlog at the end {ms(flush)}")
            print(f"        {name:<9} cycle {ms(cycle)}  p95 {ms(p95)}  wall/minute {ms(wall)}{extra}")

    print(f"\n(c) reads on {args.days} days of 1-minute data for 50 symbols (median of 20)")
    for make in kinds:
        t = make(f"c-{uuid.uuid4().hex[:6]}")
        try:
            start = time.perf_counter()
            rows = build_history(t.url, args.days)
            build = time.perf_counter() - start
            timings = time_reads(t.url)
        finally:
            t.cleanup()
        print(f"    {t.name:<8} {rows:,} rows built in {build:,.1f} s ({rows / build:,.0f} rows/s)")
        for name, seconds in timings.items():
            print(f"        {name:<28} {ms(seconds)}")
    print()
    signal_layouts(args, tmp, kinds)



# -- (d) signals on disk ---------------------------------------------------------------------------
PER_SYMBOL = Table("signal_blobs", (col("instance", "varchar", 32, null=False), col("timestamp", "ts", null=False),
                                    col("symbol", "varchar", 32, null=False), col("data", "blob", null=False)),
                   unique=(("signal_blobs_key", ("instance", "symbol", "timestamp")),),
                   indexes=(("signal_blobs_time", ("instance", "timestamp")),))
LAYOUT_TABLES = {"signals": "signals table rows (before)", "signal_blobs": "a packed value per symbol and bar",
                 "signal_minutes": "a packed row per minute (ships)"}


async def capture_minutes(minutes: int) -> list[list[SignalUpdate]]:
    """The engine's own signals: 500 symbols on the simulated market, `minutes` live minutes."""
    config = engine_config()
    bus = EventBus()
    sub = bus.subscribe("capture", maxsize=10 ** 7, coalesce=False)
    feed = SimFeed(config, paced=False)
    engine: Engine | None = None
    engine = Engine(config, feed=feed, venue_factory=venue_factory_for(config, SECRETS, feed,
                                                                       lambda: engine.market_time()),
                    bus=bus, secrets=SECRETS, store=None)
    await engine.run(max_bars=minutes)
    by_minute: dict[datetime, list[SignalUpdate]] = {}
    for e in sub.drain(10 ** 8):
        if isinstance(e, SignalBatch):
            for u in e.fresh():
                by_minute.setdefault(u.ts, []).append(u._replace(components=dict(u.components or {})))
    return [by_minute[ts] for ts in sorted(by_minute) if len(by_minute[ts]) == SYMBOLS]


def layout_rows(layout: str, minute: list[SignalUpdate]) -> list:
    if layout == "signals":
        return [("signal", {**values, "instance": "default"}) for u in minute for _, values in signals_table_rows(u)]
    if layout == "signal_minutes":
        return [("signal_minute", {**values, "instance": "default"}) for _, values in signal_minute_rows(minute)]
    # The same floats and notionals per symbol, without the minute's header of names.
    floats = float_matrix(minute)
    return [{"instance": "default", "timestamp": utc_naive(u.ts), "symbol": u.symbol,
             "data": compress(shuffled(floats[i:i + 1]) + f"{u.target_notional}|{u.current_notional}".encode())}
            for i, u in enumerate(minute)]


def write_layout(backend, layout: str, minutes: list[list[SignalUpdate]], count: int) -> float:
    """Write `count` minutes (the captured ones over and over, a minute later each time); CPU s/minute."""
    cpu = 0.0
    for m in range(count):
        source = minutes[m % len(minutes)]
        ts = T0 + timedelta(minutes=m)
        start = time.process_time()
        rows = layout_rows(layout, [u._replace(ts=ts) for u in source])
        if layout == "signal_blobs":
            insert_plain(backend, PER_SYMBOL, rows)
        else:
            backend.write(rows)
        cpu += time.process_time() - start
    return cpu / count


def insert_plain(backend, table: Table, rows: list[dict]) -> None:
    """Rows for a table of this benchmark alone (no write spec): one multi-row insert."""
    names = [c.name for c in table.columns]
    if backend.dialect == "sqlite":
        backend.conn.execute("BEGIN")
        backend.conn.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                 [[ts_text(r[n]) if n == "timestamp" else r[n] for n in names] for r in rows])
        backend.conn.execute("COMMIT")
        return
    values = ",".join("(" + ",".join(literal(r[n]) for n in names) + ")" for r in rows)
    backend.execute(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {values}")


def disk_bytes(backend, url: str, table: str) -> int:
    """The table's bytes on disk with its indexes: SQLite's pages, InnoDB's tablespace file."""
    if backend.dialect == "sqlite":
        names = [table] + [r[0] for r in backend.query("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                        "AND tbl_name = ?", (table,))]
        marks = ", ".join("?" for _ in names)
        return int(backend.query(f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})", tuple(names))[0][0] or 0)
    database = parse_url(url).database
    rows = backend.query("SELECT FILE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = ?",
                         (f"{database}/{table}",))
    return int(rows[0][0])


def signal_layouts(args, tmp: Path, kinds) -> None:
    captured = asyncio.run(capture_minutes(min(60, args.layout_minutes)))
    print(f"(d) signals on disk: {len(captured)} real minutes of {SYMBOLS} symbols, written as "
          f"{args.layout_minutes} minutes ({args.layout_minutes * SYMBOLS:,} signals); bytes per signal with indexes")
    f64 = statistics.mean(len(pack_minute(m)) for m in captured) / SYMBOLS
    print(f"    packed value alone, float64 (exact): {f64:6.1f} B a signal")
    print(f"    packed value alone, float32 (lossy, not stored): {float32_bytes(captured):6.1f} B a signal")
    for make in kinds:
        for layout, label in LAYOUT_TABLES.items():
            t = make(f"d-{uuid.uuid4().hex[:6]}")
            try:
                backend = make_backend(parse_url(t.url), StorageConfig(), SECRETS, timeout_s=60)
                backend.open(create=True)
                migrate(backend)
                for statement in PER_SYMBOL.create(backend.dialect):
                    backend.execute(statement)
                empty = disk_bytes(backend, t.url, layout)
                cpu = write_layout(backend, layout, captured, args.layout_minutes)
                if backend.dialect == "mysql":
                    time.sleep(2)  # InnoDB extends its files in the background after a burst of writes
                per_signal = (disk_bytes(backend, t.url, layout) - empty) / (args.layout_minutes * SYMBOLS)
                backend.close()
            finally:
                t.cleanup()
            print(f"    {t.name:<8} {label:<36} {per_signal:7.1f} B a signal  "
                  f"{per_signal * SYMBOLS * 1440 / 1e6:7.1f} MB a day at {SYMBOLS} symbols  "
                  f"(building and writing a minute: {ms(cpu)} CPU)")


def float32_bytes(minutes: list[list[SignalUpdate]]) -> float:
    """What packing the floats as float32 would take (the desk would show other fourth decimals)."""
    sizes = []
    for minute in minutes:
        matrix = float_matrix(minute)
        exact = len(compress(shuffled(matrix)))
        sizes.append(len(pack_minute(minute)) - exact + len(compress(shuffled(matrix.astype(np.float32)))))
    return statistics.mean(sizes) / SYMBOLS


if __name__ == "__main__":
    main()
