"""The store's command-line faces: `trifactor db upgrade`, `trifactor db check` and
`trifactor status`. Plain synchronous functions returning text (and an exit code for the
check); failures raise StoreError with a message meant to be printed as is.
"""
from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Callable, TypeVar

from engine.config import DEFAULT_INSTANCE, StorageConfig
from engine.secrets import Secrets
from storage import instances, reads
from storage.backend import Backend, make_backend
from storage.errors import StoreError
from storage.migrations import LATEST_VERSION, MIGRATIONS
from storage.lock import is_running
from storage.pending import pending_rows, pending_text
from storage.recovery import load_controls
from storage.schema import current_version, migrate, problems
from storage.store import default_journal_dir
from storage.url import parse_url

LAST_TRADES = 10
LARGEST_TARGETS = 5
T = TypeVar("T")


def _outside_event_loop(fn: Callable[..., T]) -> Callable[..., T]:
    """Run in a helper thread when called from a thread with a running event loop: the
    MariaDB backend drives its own loop, which cannot run inside another one."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(*args, **kwargs)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(fn, *args, **kwargs).result()
    return wrapper


def _open(url: str | None, secrets: Secrets, config: StorageConfig | None, *, create: bool) -> Backend:
    parsed = parse_url(url or (config.url if config else None))
    backend = make_backend(parsed, config or StorageConfig(), secrets, read_only=not create)
    backend.open(create=create)
    return backend


@_outside_event_loop
def db_upgrade(url: str | None, secrets: Secrets, config: StorageConfig | None = None) -> str:
    """Create the database if allowed and apply pending migrations; say what was done."""
    backend = _open(url, secrets, config, create=True)
    try:
        applied = migrate(backend)
        found = problems(backend)
    finally:
        backend.close()
    if found:
        raise StoreError(f"{backend.url} is at schema version {LATEST_VERSION} but: {'; '.join(found)}")
    if not applied:
        return f"{backend.url}: schema already at version {LATEST_VERSION}; nothing to do"
    done = ", ".join(f"{m.version} ({m.description})" for m in applied)
    return f"{backend.url}: schema upgraded to version {LATEST_VERSION}; applied {done}"


@_outside_event_loop
def db_check(url: str | None, secrets: Secrets, config: StorageConfig | None = None,
             migrations: tuple = MIGRATIONS) -> tuple[int, str]:
    """(exit code, report): 0 when the schema is current and complete, 1 when not, 2 when unreachable."""
    latest = migrations[-1].version
    try:
        backend = _open(url, secrets, config, create=False)
    except StoreError as e:
        return 2, str(e)
    try:
        version = current_version(backend)
        found = problems(backend, migrations) if version else []
    except StoreError as e:
        return 2, str(e)
    finally:
        backend.close()
    head = f"{backend.url}: schema version {version if version is not None else 'none'}, expected {latest}"
    if version is None or version < latest:
        return 1, f"{head}: out of date; run `trifactor db upgrade`"
    if version > latest:
        return 1, f"{head}: written by a newer trifactor; upgrade trifactor"
    if found:
        return 1, head + "\nproblems:\n" + "\n".join(f"  - {p}" for p in found)
    return 0, f"{head}: up to date, no problems"


def _usd(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _fee(value: Decimal) -> str:
    return f"{value:,.4f}"


def _qty(value: Decimal | None) -> str:
    return "-" if value is None else format(value.normalize(), "f")


@_outside_event_loop
def status_report(url: str | None, secrets: Secrets, config: StorageConfig | None = None,
                  instance: str | None = None) -> str:
    """Every engine instance in the store (or just `instance`): positions, equity, trade count,
    last trades, paused symbols and halt state, read-only, from a second process while the
    engines run. Takes no lock."""
    backend = _open(url, secrets, config, create=False)
    try:
        version = current_version(backend)
        if version is None:
            raise StoreError(f"{backend.url} holds no trifactor data yet (no schema): start trifactor once")
        if version < LATEST_VERSION:
            raise StoreError(f"{backend.url} has schema version {version}, expected {LATEST_VERSION}: "
                             f"run `trifactor db upgrade` (or start trifactor once)")
        names = instances.names(backend)
        if instance is not None:
            if instance not in names:
                known = ", ".join(names) or "none"
                raise StoreError(f"{backend.url} has no instance {instance!r} (instances: {known})")
            names = [instance]
        lines = [f"store   {backend.url}",
                 f"instances  {', '.join(names) if names else 'none yet'}"]
        for name in names or [DEFAULT_INSTANCE]:
            lines += ["", *_instance_text(backend, name)]
        return "\n".join(lines)
    finally:
        backend.close()


def _signals_text(backend: Backend, instance: str) -> list[str]:
    """The newest stored minute's signals: how many symbols in which state, and the largest targets."""
    latest = reads.latest_signals(backend, instance)
    if not latest:
        return ["signals: none stored yet"]
    states: dict[str, int] = {}
    for s in latest:
        states[s.status or "-"] = states.get(s.status or "-", 0) + 1
    counts = ", ".join(f"{state} {n}" for state, n in sorted(states.items(), key=lambda kv: -kv[1]))
    lines = [f"signals at {latest[0].ts:%Y-%m-%d %H:%M:%S} UTC: {len(latest)} symbols ({counts})"]
    largest = sorted(latest, key=lambda s: abs(s.target_notional or 0), reverse=True)[:LARGEST_TARGETS]
    lines.append(f"  {'symbol':<14}{'status':<20}{'final factor':>14}{'target factor':>15}{'target USDT':>14}")
    for s in largest:
        lines.append(f"  {s.symbol:<14}{s.status or '-':<20}{_factor(s.final_factor):>14}"
                     f"{_factor(s.target_factor):>15}{_usd(s.target_notional):>14}")
    return lines


def _factor(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def _instance_text(backend: Backend, instance: str) -> list[str]:
    controls = load_controls(backend, instance)
    mode = controls.mode if controls and controls.mode else "paper"
    lines = [f"== instance {instance} =="]
    running = is_running(backend.url, instance, backend)
    runner = instances.runner(backend, instance, running)
    if runner:
        lines.append(f"engine  {runner}")
    lines += pending_text(pending_rows(default_journal_dir(backend.url, instance)), running)
    if controls:
        halted = f"HALTED ({controls.halt_reason})" if controls.halted and controls.halt_reason else (
            "HALTED" if controls.halted else "no")
        lines += [f"mode    {mode}",
                  f"halt    {halted}",
                  f"paused  {', '.join(sorted(controls.paused)) or 'none'}"]
    else:
        lines.append("engine  no state recorded yet")

    history = reads.equity_history(backend, mode, 1, instance)
    count = reads.trade_count(backend, mode, instance)
    lines.append("")
    if history:
        p = history[-1]
        dd = f"{p.drawdown * 100:.2f}%" if p.drawdown is not None else "-"
        lines += [f"equity ({mode}) at {p.ts:%Y-%m-%d %H:%M:%S} UTC: {_usd(p.equity)} USDT",
                  f"  realized {_usd(p.realized)}  unrealized {_usd(p.unrealized)}  fees {_usd(p.fees)}  "
                  f"funding {_usd(p.funding)}  peak {_usd(p.peak)}  drawdown {dd}  trades {count}"]
    else:
        lines.append(f"equity ({mode}): no data yet  trades {count}")

    held = reads.positions(backend, mode, instance)
    lines += ["", f"positions ({mode}): {len(held) or 'none'}"]
    if held:
        # Positions are stored when they change; the equity line above is marked every minute.
        lines.append(f"  {'symbol':<14}{'quantity':>16}{'entry':>16}{'mark at change':>16}{'unrealized then':>16}")
        for pos in held:
            lines.append(f"  {pos.symbol:<14}{_qty(pos.quantity):>16}{_qty(pos.entry_price):>16}"
                         f"{_qty(pos.mark_price):>16}{_usd(pos.unrealized_pnl):>16}")

    lines += ["", *_signals_text(backend, instance)]

    trades = reads.last_trades(backend, LAST_TRADES, mode, instance)
    lines += ["", f"last trades ({mode}): {len(trades) or 'none'}"]
    if trades:
        lines.append(f"  {'time (UTC)':<20}{'symbol':<14}{'side':<6}{'quantity':>14}{'price':>16}"
                     f"{'fee':>12}{'realized':>12}")
        for t in trades:
            lines.append(f"  {t.ts:%Y-%m-%d %H:%M:%S} {t.symbol:<14}{t.side:<6}{_qty(t.quantity):>14}"
                         f"{_qty(t.price):>16}{_usd(t.fee):>12}{_usd(t.realized_pnl):>12}")
    return lines
