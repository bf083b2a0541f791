"""What the desk costs on top of the engine, in a real terminal (a pseudo-terminal).

Run from the repository root:  python benchmarks/tui.py            (10 minutes, the full measurement)
                               python benchmarks/tui.py --minutes 2   (a shorter look)

500 simulated symbols at 2 bars a second. The desk runs as a child process on a
pseudo-terminal exactly as a person would run it; this script plays the person:
it reads the screen output, types keys and samples the child's CPU and memory.

Figures and targets:
  key-to-screen latency of `p`   key written to the terminal -> the pause (or resume)
                                 shows in the terminal output          target < 100 ms
  event-loop lag p99             measured inside the desk              target < 50 ms
  desk CPU beyond the engine     desk run minus an engine-only run,
                                 in % of one core, at steady state     target <= 25 %
  RSS at the end vs after 1 min  no growth                             target ratio <= 1.10

With `--busy N`, N processes spin on the CPU for the whole run (2 keep both cores of this
machine busy), so the latency and lag are those of a busy machine; the CPU figures then
measure the share the desk got, not what it needs.
"""
from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # this file is called tui.py: the package must win the import

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_S = 15.0  # after the engine starts, before anything is measured
TOAST_S = 7.0  # longer than a command notice stays up, so each press starts from a clean screen


# -- the child: the engine alone, or the desk with the engine ---------------------------------------


def build(args):
    from engine.config import from_mapping
    from engine.events import EventBus
    from engine.secrets import Secrets
    from engine.statefile import StateFile
    from engine.wiring import build_engine

    symbols = [f"B{i:03d}USDT" for i in range(args.symbols)]
    config = from_mapping({"universe": {"symbol_list": symbols}, "sim": {"speed": args.speed, "seed": 42}},
                          "<benchmark>")
    state_file = StateFile(Path(args.status).with_suffix(".state.toml"))
    engine = build_engine(config, Secrets.load(environ={}), EventBus(), state_file=state_file)
    return config, state_file, engine


def write_status(path: str, **values) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(values))
    tmp.replace(path)


async def probe_lag(lags: list[float]) -> None:
    """How late a 20 ms sleep wakes up: the longest stretch the loop was busy elsewhere."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.02)
        lags.append(time.perf_counter() - before - 0.02)


def child_engine(args) -> None:
    async def main() -> None:
        _, _, engine = build(args)
        run = asyncio.ensure_future(engine.run())
        while not engine.started:
            await asyncio.sleep(0.05)
        write_status(args.status, started=time.time())
        await asyncio.sleep(SETTLE_S)
        lags: list[float] = []
        probe = asyncio.ensure_future(probe_lag(lags))
        await asyncio.sleep(args.seconds - SETTLE_S)
        probe.cancel()
        await engine.stop()
        await run
        write_status(args.status, started=0, lags=lags)

    asyncio.run(main())


def child_desk(args) -> None:
    from tui.app import DeskApp

    config, state_file, engine = build(args)
    lags: list[float] = []

    class MeasuredDesk(DeskApp):
        async def on_mount(self) -> None:
            await super().on_mount()
            self.run_worker(self.probe(), group="probe")

        async def probe(self) -> None:
            while not engine.started:
                await asyncio.sleep(0.05)
            write_status(args.status, started=time.time())
            await asyncio.sleep(SETTLE_S)
            await probe_lag(lags)

    MeasuredDesk(engine, config, state_file).run()
    write_status(args.status, started=0, lags=lags)


# -- the parent: the person at the terminal --------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal whose output is read (and searched) continuously."""

    def __init__(self, argv: list[str], columns: int, rows: int) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, cwd=ROOT)
        os.close(slave)
        self.master = master
        self._lock = threading.Lock()
        self._since: bytearray | None = None
        self._found = threading.Event()
        self._marker = b""
        self.received = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)
            with self._lock:
                if self._since is not None:
                    self._since += data
                    if self._marker in self._since:
                        self._found.set()
                        self._since = None

    def press(self, key: bytes, marker: bytes, timeout: float = 10.0) -> float | None:
        """Seconds from writing `key` until `marker` appears in the output (None: never)."""
        with self._lock:
            self._since, self._marker = bytearray(), marker
            self._found.clear()
        started = time.perf_counter()
        os.write(self.master, key)
        if not self._found.wait(timeout):
            return None
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def wait_started(status: str, proc: subprocess.Popen, limit_s: float = 600) -> float:
    deadline = time.time() + limit_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the child exited early (code {proc.returncode})")
        try:
            return json.loads(Path(status).read_text())["started"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            time.sleep(0.2)
    raise SystemExit("the engine did not start in time")


def cpu_percent(term: Terminal, seconds: float) -> float:
    c0, t0 = term.cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    return (term.cpu_seconds() - c0) / (time.perf_counter() - t0) * 100


def child_argv(args, phase: str, status: str, seconds: float) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--status", status,
            "--symbols", str(args.symbols), "--speed", str(args.speed), "--seconds", str(seconds)]


def measure_engine_alone(args, work: Path, window_s: float) -> tuple[float, list[float]]:
    status = str(work / "engine.json")
    term = Terminal(child_argv(args, "engine", status, SETTLE_S + window_s + 5), args.columns, args.rows)
    try:
        wait_started(status, term.proc)
        time.sleep(SETTLE_S)
        cpu = cpu_percent(term, window_s)
    finally:
        term.close()
    return cpu, json.loads(Path(status).read_text()).get("lags", [])


def measure_desk(args, work: Path) -> dict:
    status = str(work / "desk.json")
    term = Terminal(child_argv(args, "desk", status, 0), args.columns, args.rows)
    total_s = args.minutes * 60
    try:
        started = wait_started(status, term.proc)
        time.sleep(SETTLE_S)
        c0, t0 = term.cpu_seconds(), time.perf_counter()
        time.sleep(max(0.0, started + 60 - time.time()))
        rss_1min = term.rss_mb()
        latencies: list[float] = []
        misses = 0
        while time.time() < started + total_s - 2 * TOAST_S - 5 and len(latencies) + misses < args.presses:
            for marker in (b"paused", b"resumed"):
                took = term.press(b"p", marker)
                if took is None:
                    misses += 1
                else:
                    latencies.append(took)
                time.sleep(TOAST_S)
        time.sleep(max(0.0, started + total_s - time.time()))
        cpu = (term.cpu_seconds() - c0) / (time.perf_counter() - t0) * 100
        rss_end = term.rss_mb()
        os.write(term.master, b"q")
        term.close()
        lags = json.loads(Path(status).read_text()).get("lags", [])
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    return {"cpu": cpu, "rss_1min": rss_1min, "rss_end": rss_end, "latencies": latencies, "misses": misses,
            "lags": lags, "bytes": term.received, "seconds": total_s}


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the desk run (default 10)")
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--speed", type=float, default=2.0, help="simulated bars per second")
    parser.add_argument("--columns", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--presses", type=int, default=20, help="how many `p` presses to time")
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="run N CPU-spinning processes alongside")
    parser.add_argument("--child", choices=("engine", "desk"), help=argparse.SUPPRESS)
    parser.add_argument("--status", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "engine":
        return child_engine(args)
    if args.child == "desk":
        return child_desk(args)
    if args.minutes < 1.5:
        raise SystemExit("--minutes must be at least 1.5 (memory is compared with the 1-minute mark)")

    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        run(args)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        window_s = min(60.0, args.minutes * 60 - SETTLE_S)
        print(f"{args.symbols} symbols at {args.speed:g} bars/s, {args.columns}x{args.rows} terminal; "
              f"desk run {args.minutes:g} min"
              + (f"; machine busy: {args.busy} CPU-spinning processes" if args.busy else ""), flush=True)
        engine_cpu, engine_lags = measure_engine_alone(args, work, window_s)
        print(f"engine alone: {engine_cpu:.1f} % of one core; event-loop lag p99 "
              f"{p(engine_lags, 0.99) * 1000:.1f} ms, max {max(engine_lags, default=0) * 1000:.1f} ms", flush=True)
        desk = measure_desk(args, work)

    lat = desk["latencies"]
    lags = desk["lags"]
    desk_cpu = desk["cpu"] - engine_cpu
    growth = desk["rss_end"] / desk["rss_1min"]
    print(f"engine + desk: {desk['cpu']:.1f} % of one core; terminal output "
          f"{desk['bytes'] / desk['seconds'] / 1024:.1f} KiB/s")
    print(f"desk CPU beyond the engine: {desk_cpu:.1f} % of one core (target <= 25 %): "
          f"ratio to target {desk_cpu / 25:.2f}")
    if lat:
        print(f"key-to-screen latency of p: median {statistics.median(lat) * 1000:.1f} ms, "
              f"p90 {p(lat, 0.9) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms over {len(lat)} presses "
              f"({desk['misses']} never shown) (target < 100 ms): ratio to target {max(lat) * 10:.2f}")
    else:
        print(f"key-to-screen latency of p: no press was shown ({desk['misses']} presses)")
    if lags:
        print(f"event-loop lag: p50 {p(lags, 0.5) * 1000:.1f} ms, p99 {p(lags, 0.99) * 1000:.1f} ms, "
              f"max {max(lags) * 1000:.1f} ms over {len(lags)} samples (target p99 < 50 ms): "
              f"ratio to target {p(lags, 0.99) * 20:.2f}")
    print(f"RSS: {desk['rss_1min']:.1f} MiB after 1 min, {desk['rss_end']:.1f} MiB after "
          f"{args.minutes:g} min: ratio {growth:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
