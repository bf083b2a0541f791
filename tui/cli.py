"""The `trifactor` command: the desk by default, plus headless runs, status, config and db tools.

Every failure a user can cause ends in one clear sentence on stderr and a non-zero exit;
unexpected errors go to the log file with their traceback, and the screen gets its path.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import sys
from pathlib import Path

from engine import config as config_mod
from engine import paths
from engine.secrets import SecretError, Secrets

log = logging.getLogger("trifactor")

EXIT_USAGE = 2


class UserError(Exception):
    """A problem the user can fix; printed as one sentence."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trifactor",
        description="Terminal trading desk for Binance USDⓈ-M perpetuals. With no command: the desk, "
                    "in paper mode on the embedded simulated market.",
    )
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the engine, with the desk or --headless")
    run.add_argument("--headless", action="store_true", help="no desk: print a line per bar to stdout")
    run.add_argument("--bars", type=int, metavar="N", help="stop after N new bars")
    run.add_argument("--confirm", metavar="LIVE", help="start in live mode without the prompt (for a service): "
                                                        "the word LIVE")
    _engine_options(run)

    status = sub.add_parser("status", help="positions, equity, last trades, paused symbols, from the store")
    status.add_argument("--db", metavar="URL", help="sqlite:///path or mysql://user@host:port/db")
    status.add_argument("--config", metavar="PATH", help="config file (default: XDG config dir)")
    status.add_argument("--instance", metavar="NAME", help="only this engine instance (default: every one)")

    cfg = sub.add_parser("config", help="write or check a config file")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    init = cfg_sub.add_parser("init", help="write a commented sample config")
    init.add_argument("path", nargs="?", help=f"where (default {paths.default_config_path()})")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = cfg_sub.add_parser("check", help="validate a config file")
    check.add_argument("path")

    from tui.control_commands import add_parsers as add_control_parsers

    add_control_parsers(sub)

    from tui.backtest_command import add_parser as add_backtest_parser
    from tui.data_command import add_parser as add_data_parser

    from tui.sweep_command import add_parser as add_sweep_parser

    add_backtest_parser(sub)
    add_data_parser(sub)
    add_sweep_parser(sub)

    db = sub.add_parser("db", help="database schema tools")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "apply pending schema migrations"), ("check", "report the schema version")):
        one = db_sub.add_parser(name, help=text)
        one.add_argument("--db", metavar="URL", help="sqlite:///path or mysql://user@host:port/db")
        one.add_argument("--config", metavar="PATH", help="config file (default: XDG config dir)")
    return p


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="config file (default: XDG config dir, if present)")
    p.add_argument("--mode", choices=config_mod.MODES, help="trading mode at start")
    p.add_argument("--market", choices=config_mod.MARKETS, help="market data source")
    p.add_argument("--speed", type=_speed, metavar="BARS_PER_S",
                   help="simulated or replayed bars per second, or `max`: as fast as the engine goes")
    p.add_argument("--seed", type=int, help="seed of the simulated market")
    p.add_argument("--db", metavar="URL", help="store: sqlite:///path or mysql://user@host:port/db")
    p.add_argument("--instance", metavar="NAME", help="this engine's name in the store (config `instance`)")


def _speed(text: str) -> float | str:
    if text.strip().lower() == "max":
        return "max"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of bars per second nor `max`") from None


def _load_config(args: argparse.Namespace, checks: tuple = (), overrides: dict | None = None) -> config_mod.Config:
    overrides = dict(overrides or {})
    if getattr(args, "mode", None):
        overrides["trading_mode"] = args.mode
    if getattr(args, "market", None):
        overrides["market"] = args.market
    if getattr(args, "speed", None) == "max":
        overrides.setdefault("sim", {})["unpaced"] = True
    elif getattr(args, "speed", None) is not None:
        overrides.setdefault("sim", {})["speed"] = args.speed
    if getattr(args, "seed", None) is not None:
        overrides.setdefault("sim", {})["seed"] = args.seed
    if getattr(args, "db", None):
        overrides.setdefault("storage", {})["url"] = args.db
    if getattr(args, "instance", None) is not None:
        overrides["instance"] = args.instance
    path = getattr(args, "config", None)
    if path is None and paths.default_config_path().exists():
        path = paths.default_config_path()
    return config_mod.load(path, overrides, checks)


def _secrets(cfg: config_mod.Config) -> Secrets:
    f = cfg.exchange.secrets_file
    return Secrets.load(Path(f).expanduser() if f else None)


def _secrets_file_problems(cfg: config_mod.Config, source: str) -> list[str]:
    if not cfg.exchange.secrets_file:
        return []
    try:
        _secrets(cfg)
    except SecretError as e:
        return [str(e)]
    return []


def _db_url(cfg: config_mod.Config) -> str:
    return cfg.storage.url or paths.default_db_url()


def cmd_config(args: argparse.Namespace) -> int:
    if args.config_command == "init":
        target = Path(args.path).expanduser() if args.path else paths.default_config_path()
        if target.exists() and not args.force:
            raise UserError(f"{target} already exists; use --force to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_mod.sample_yaml(), encoding="utf-8")
        print(f"wrote {target}")
        return 0
    from tui.keymap import keymap_problems

    try:
        cfg = config_mod.load(args.path, checks=(keymap_problems, _secrets_file_problems))
    except config_mod.ConfigError as e:
        for problem in e.problems:
            print(f"trifactor: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.path}: ok — mode {cfg.trading_mode}, market {cfg.market}, {len(cfg.symbols())} symbols")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    import storage

    cfg = _load_config(args)
    url, secrets = _db_url(cfg), _secrets(cfg)
    if args.db_command == "upgrade":
        print(storage.db_upgrade(url, secrets))
        return 0
    code, text = storage.db_check(url, secrets)
    print(text)
    return code


def cmd_status(args: argparse.Namespace) -> int:
    import storage

    cfg = _load_config(args)
    print(storage.status_report(_db_url(cfg), _secrets(cfg), instance=args.instance))
    return 0


def cmd_ctl(args: argparse.Namespace) -> int:
    from tui.control_commands import run_ctl

    return run_ctl(args, _load_config(args))


def cmd_flatten(args: argparse.Namespace) -> int:
    from tui.control_commands import run_flatten

    if bool(args.symbol) == bool(args.all):
        raise UserError("flatten needs one SYMBOL or --all")
    cfg = _load_config(args)
    return run_flatten(args, cfg, _secrets(cfg), _db_url(cfg))


def cmd_run(args: argparse.Namespace) -> int:
    if args.headless:
        cfg = _load_config(args)
    else:
        from tui.keymap import keymap_problems

        cfg = _load_config(args, (keymap_problems,))
    secrets = _secrets(cfg)
    if args.bars is not None and args.bars < 1:
        raise UserError("--bars must be at least 1")
    from engine.logsetup import setup_logging

    setup_logging(cfg.log_level, secrets)
    if args.headless:
        return asyncio.run(_run_headless(cfg, secrets, args.bars, getattr(args, "confirm", None)))
    return _run_desk(cfg, secrets, args.bars, getattr(args, "confirm", None))


def confirmed_live(given: str | None) -> str:
    """Live trading at start needs the word LIVE, as the desk's mode switcher does: typed at the
    terminal, or given with --confirm when no one is there to type it (a service)."""
    if given is not None:
        if given != "LIVE":
            raise UserError(f"--confirm takes the word LIVE, not {given!r}; nothing was started")
        return given
    if not sys.stdin.isatty():
        raise UserError("live trading needs the typed confirmation: start it at a terminal, "
                        "or pass --confirm LIVE; nothing was started")
    try:
        typed = input("Live mode trades real money. Type LIVE to start: ")
    except EOFError:
        typed = ""
    if typed.strip() != "LIVE":
        raise UserError("live trading was not confirmed; nothing was started")
    return "LIVE"


async def _run_headless(cfg: config_mod.Config, secrets: Secrets, bars: int | None,
                        confirm: str | None = None) -> int:
    from engine.events import EventBus
    from engine.headless import run_headless
    from engine.statefile import StateFile
    from engine.wiring import build_engine

    import storage
    from storage.store import CLOSE_WAIT_S, FINISH_WAIT_S

    from engine.control import ControlServer

    bus = EventBus()
    store = storage.open_store(_db_url(cfg), cfg.storage, secrets, instance=cfg.instance)
    engine = build_engine(cfg, secrets, bus, store=store, state_file=StateFile(paths.default_state_file()))
    if cfg.trading_mode != "paper":
        # Unattended, an explicitly asked-for mode that cannot start is an error, not a fallback.
        allowed, why = engine.can_trade(cfg.trading_mode)
        if not allowed:
            raise UserError(why)
        if cfg.trading_mode == "live":
            engine.confirm_live(confirmed_live(confirm))
    # The store first: a second engine on the same book is refused naming the store and the
    # other process. A database that is down is waited for, not fatal: everything is journaled.
    await store.start()
    try:
        control = ControlServer.claim(cfg)  # one engine per instance on this machine
        try:
            store.attach(bus)
            return await run_headless(engine, max_bars=bars, control=control)
        finally:
            control.release()
    finally:
        # Bounded: after a signal within the 5 s a service manager allows; after --bars, long
        # enough for a slow database. What it has not taken stays journaled either way.
        await store.close(CLOSE_WAIT_S if engine.stop_requested else FINISH_WAIT_S)


def _run_desk(cfg: config_mod.Config, secrets: Secrets, bars: int | None, confirm: str | None = None) -> int:
    import storage
    from engine.events import EventBus
    from engine.statefile import StateFile
    from engine.wiring import build_engine
    from tui.app import DeskApp

    bus = EventBus()
    state_file = StateFile(paths.default_state_file())
    # The store binds to the desk's event loop, so the desk starts it (and carries on without it).
    store = storage.open_store(_db_url(cfg), cfg.storage, secrets, instance=cfg.instance)
    engine = build_engine(cfg, secrets, bus, store=store, state_file=state_file)
    if cfg.trading_mode == "live" and engine.can_trade("live")[0]:
        engine.confirm_live(confirmed_live(confirm))  # before the desk takes the terminal
    from engine.control import ControlServer

    control = ControlServer.claim(cfg)  # refuses while another engine runs this instance
    try:
        app = DeskApp(engine, cfg, state_file, store=store, max_bars=bars, control=control)
        app.run()
    finally:
        control.release()
    return app.return_code or 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from tui.backtest_command import run_backtest

    return run_backtest(args, _load_config, _db_url)


def cmd_data(args: argparse.Namespace) -> int:
    from tui.data_command import run_data

    return run_data(args, _load_config)


def cmd_sweep(args: argparse.Namespace) -> int:
    from tui.sweep_command import run_sweep_command

    return run_sweep_command(args)


COMMANDS = {"run": cmd_run, "status": cmd_status, "config": cmd_config, "db": cmd_db, "ctl": cmd_ctl,
            "flatten": cmd_flatten, "backtest": cmd_backtest, "data": cmd_data, "sweep": cmd_sweep}


def _known_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [UserError, config_mod.ConfigError, SecretError]
    for module, name in (("storage", "StoreError"), ("engine.feeds.base", "FeedError"),
                         ("engine.backtest.data", "DataError"),
                         ("engine.venues.base", "VenueError"), ("engine.control", "ControlError")):
        try:
            errors.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `trifactor --speed 8` means the desk with options, like `trifactor run --speed 8`.
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `trifactor status | head`: the reader went away, as with any Unix tool
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except _known_errors() as e:
        for line in str(e).splitlines() or [type(e).__name__]:
            print(f"trifactor: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        _record_unexpected(e)
        print(f"trifactor: unexpected error ({type(e).__name__}); details are in {paths.log_file()}",
              file=sys.stderr)
        return 1


def _record_unexpected(error: Exception) -> None:
    """Put the traceback in the log file even when logging was never set up."""
    import traceback

    if logging.getLogger().handlers:
        log.error("unexpected error", exc_info=error)
        return
    try:
        with paths.private_file(paths.log_file()).open("a", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(error)))
    except OSError:
        pass


def run_command() -> None:
    """The process's entry point: the `trifactor` script, `python -m tui` and `python -m tui.cli`."""
    code = main()
    # The process ends here. Interpreter shutdown walks everything still alive with the garbage
    # collector, again and again while it tears the modules down: tens of ms after a run. Frozen,
    # those objects are still freed and every exit handler (the log's flush) still runs; only the
    # walks go.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run_command()
