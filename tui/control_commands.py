"""`trifactor ctl ...` and `trifactor flatten`: the outside kill switch.

`ctl` sends one command to the running engine over its control socket and prints the answer.
`flatten` does the same when an engine runs; with none running it flattens directly (the
exchange for testnet/live, the stored paper book for paper).

Exit codes: 0 done, 1 refused or not flat, 3 no engine running (ctl only).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from engine import paths
from engine.config import MODES, Config
from engine.control import instance_lock, instance_of, socket_path
from engine.control_client import NoEngineRunning, request
from engine.secrets import Secrets

EXIT_REFUSED = 1
EXIT_NO_ENGINE = 3
CTL_COMMANDS = ("flatten", "pause", "resume", "halt", "resume-entries", "status")


def add_parsers(sub: Any) -> None:
    """The `ctl` and `flatten` subcommands."""
    ctl = sub.add_parser("ctl", help="send a command to the running engine over its control socket")
    ctl_sub = ctl.add_subparsers(dest="ctl_command", required=True)
    for name, text, symbol in (
            ("flatten", "close all positions (or SYMBOL's); all: entries halted until resumed", "?"),
            ("pause", "no new orders for SYMBOL (it keeps its position)", 1),
            ("resume", "let the strategy trade SYMBOL again", 1),
            ("halt", "halt entries (positions are kept and may still be reduced)", 0),
            ("resume-entries", "resume entries (and clear tripped breakers)", 0),
            ("status", "mode, halt, paused symbols, positions and equity", 0)):
        one = ctl_sub.add_parser(name, help=text)
        if symbol == "?":
            one.add_argument("symbol", nargs="?", metavar="SYMBOL")
        elif symbol:
            one.add_argument("symbol", metavar="SYMBOL")
        one.add_argument("--config", metavar="PATH", help="config file (its `instance` picks the engine)")
    flatten = sub.add_parser("flatten", help="close positions: through the running engine, or directly on the "
                                             "exchange (or the stored paper book) when none runs")
    flatten.add_argument("symbol", nargs="?", metavar="SYMBOL", help="only this symbol")
    flatten.add_argument("--all", action="store_true", help="every position (entries are halted until resumed)")
    flatten.add_argument("--config", metavar="PATH", help="config file (default: XDG config dir, if present)")
    flatten.add_argument("--mode", choices=MODES, help="with no engine running: the mode to flatten (default: the "
                                                       "config's); with one: must be the mode it trades")
    flatten.add_argument("--db", metavar="URL", help="store: sqlite:///path or mysql://user@host:port/db")


def _progress(line: str) -> None:
    print(f"  ... {line}", flush=True)


def print_answer(answer: dict) -> int:
    if answer.get("command") == "status" and answer.get("ok"):
        _print_status(answer.get("details") or {})
        return 0
    ok = bool(answer.get("ok"))
    print(f"{'ok' if ok else 'REFUSED'} {answer.get('command', '?')}: {answer.get('message', '')}")
    for key, value in sorted((answer.get("details") or {}).items()):
        print(f"  {key}: {value}")
    return 0 if ok else EXIT_REFUSED


def _print_status(d: dict) -> None:
    running = "running" if d.get("started") else "starting or stopped"
    print(f"mode       {d.get('mode')} on {d.get('market')} ({running}, feed {d.get('feed')})")
    print(f"halt       {'entries halted: ' + (d.get('halt_reason') or '') if d.get('halted') else 'entries allowed'}")
    print(f"paused     {', '.join(d.get('paused') or []) or 'none'}")
    if d.get("mismatched"):
        print(f"mismatch   {', '.join(d['mismatched'])}")
    equity = d.get("equity")
    print(f"equity     {'-' if equity is None else f'{float(equity):,.2f}'}")
    positions = d.get("positions") or {}
    print(f"positions  {len(positions)}")
    for symbol, p in positions.items():
        print(f"  {symbol:<14} {p['quantity']:>14} @ {p['entry_price']}  mark {p['mark_price']}  "
              f"unrealized {float(p['unrealized_pnl']):+,.2f}")


def run_ctl(args: argparse.Namespace, cfg: Config) -> int:
    payload = {"command": args.ctl_command}
    if getattr(args, "symbol", None):
        payload["symbol"] = args.symbol.upper()
    try:
        answer = request(socket_path(cfg), instance_of(cfg), payload, on_progress=_progress)
    except NoEngineRunning as e:
        print(f"trifactor: {e}", file=sys.stderr)
        return EXIT_NO_ENGINE
    return print_answer(answer)


def run_flatten(args: argparse.Namespace, cfg: Config, secrets: Secrets, db_url: str) -> int:
    symbol = args.symbol.upper() if args.symbol else None
    payload = {"command": "flatten", **({"symbol": symbol} if symbol else {})}
    path, instance = socket_path(cfg), instance_of(cfg)
    try:
        if args.mode:
            running = request(path, instance, {"command": "status"}).get("details", {}).get("mode")
            if running != args.mode:
                # The engine closes only the book it trades; the other mode's book stays as it is.
                print(f"REFUSED flatten: the running engine trades {running}, not {args.mode}; switch it to "
                      f"{args.mode} or stop it, then flatten again")
                return EXIT_REFUSED
        return print_answer(request(path, instance, payload, on_progress=_progress))
    except NoEngineRunning as e:
        print(f"{e}: flattening {cfg.trading_mode} directly", file=sys.stderr)
    with instance_lock(cfg):  # no engine may start while the book is being closed
        if symbol is None:
            _halt_entries()
        result = asyncio.run(_flatten_directly(cfg, secrets, db_url, symbol))
    message = result.message + ("; entries halted until resumed" if symbol is None else "")
    return print_answer({"command": result.command, "ok": result.ok, "message": message,
                         "details": dict(result.details)})


def _halt_entries() -> None:
    # As the engine's flatten all: the next start does not open positions again until resumed.
    from engine.statefile import StateFile

    StateFile(paths.default_state_file()).update(halted=True, halt_reason="flatten all")


async def _record_halt(store: Any, bus: Any, cfg: Config) -> None:
    """The store's copy of the controls (what `trifactor status` shows) says halted too."""
    from engine.events import EngineState
    from engine.model import Mode

    controls = await store.load_controls()
    paused = controls.paused if controls is not None else frozenset()
    mode = (controls.mode if controls is not None and controls.mode else None) or cfg.trading_mode
    bus.publish(EngineState(mode=Mode(mode), market=cfg.market, halted=True, halt_reason="flatten all",
                            paused=paused, breakers={}, mismatched=frozenset(), feed_status="stopped"))


async def _flatten_directly(cfg: Config, secrets: Secrets, db_url: str, symbol: str | None):
    import storage
    from engine.events import EventBus
    from engine.flatten_offline import flatten_offline

    mode = cfg.trading_mode
    store = storage.open_store(db_url, cfg.storage, secrets)
    try:
        await store.start()
    except storage.StoreError as e:
        if mode == "paper":
            raise storage.StoreError(f"the paper book is kept in the store, which cannot be opened: {e}") from None
        _progress(f"the store cannot be opened ({e}); flattening anyway, nothing is recorded")
        store = None
    bus = EventBus()
    if store is not None:
        store.attach(bus)
        if symbol is None:
            await _record_halt(store, bus, cfg)
    try:
        return await flatten_offline(cfg, secrets, mode, symbol, store, bus, _progress)
    finally:
        commit = getattr(bus, "commit", None)  # a bus that delivers only what is durable
        if commit is not None:
            await commit()
        if store is not None:
            await store.close()
