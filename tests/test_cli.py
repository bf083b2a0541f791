"""The `trifactor` command's own paths: config tools and clear errors without tracebacks."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def trifactor(*args, env_home: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {"HOME": str(env_home), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(env_home / "cfg"),
           "XDG_DATA_HOME": str(env_home / "data"), "XDG_STATE_HOME": str(env_home / "state"), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def test_config_init_then_check(tmp_path):
    target = tmp_path / "c.yaml"
    out = trifactor("config", "init", str(target), env_home=tmp_path)
    assert out.returncode == 0 and target.exists()
    again = trifactor("config", "init", str(target), env_home=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    ok = trifactor("config", "check", str(target), env_home=tmp_path)
    assert ok.returncode == 0 and "ok" in ok.stdout


def test_config_init_default_location_follows_xdg(tmp_path):
    out = trifactor("config", "init", env_home=tmp_path)
    assert out.returncode == 0
    assert (tmp_path / "cfg" / "trifactor" / "config.yaml").exists()


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("leverage: 500\n")
    out = trifactor("config", "check", str(bad), env_home=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == f"trifactor: error: {bad}: `leverage`: 500 is above the maximum 125"


def test_bad_option_value_is_rejected_clearly(tmp_path):
    out = trifactor("run", "--headless", "--speed", "-3", env_home=tmp_path)
    assert out.returncode == 2 and "sim.speed" in out.stderr and "Traceback" not in out.stderr


def test_headless_refuses_an_explicit_mode_it_cannot_start(tmp_path):
    out = trifactor("run", "--headless", "--bars", "1", "--mode", "live", env_home=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("trifactor: error: live trading needs")


def test_options_without_a_command_mean_the_desk(tmp_path):
    from tui import cli

    seen = {}
    original = cli.COMMANDS["run"]
    cli.COMMANDS["run"] = lambda args: seen.setdefault("args", args) and 0
    try:
        cli.main(["--speed", "8", "--seed", "3"])
    finally:
        cli.COMMANDS["run"] = original
    args = seen["args"]
    assert args.command == "run" and args.speed == 8 and args.seed == 3 and not args.headless


def test_live_at_start_needs_the_word_live_typed_or_given(tmp_path, monkeypatch):
    """As the desk's mode switcher does: nobody starts trading real money by a config line."""
    import pytest

    from tui import cli

    env = {"TRIFACTOR_API_KEY": "k" * 16, "TRIFACTOR_API_SECRET": "s" * 16}
    out = trifactor("run", "--headless", "--bars", "1", "--mode", "live", "--market", "binance",
                    env_home=tmp_path, extra_env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "live trading needs the typed confirmation" in out.stderr and "--confirm LIVE" in out.stderr
    out = trifactor("run", "--headless", "--bars", "1", "--mode", "live", "--market", "binance",
                    "--confirm", "yes", env_home=tmp_path, extra_env=env)
    assert out.returncode == 2 and "--confirm takes the word LIVE, not 'yes'" in out.stderr

    assert cli.confirmed_live("LIVE") == "LIVE"
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    for typed, accepted in (("LIVE", True), ("live", False), ("", False)):
        monkeypatch.setattr("builtins.input", lambda prompt, typed=typed: typed)
        if accepted:
            assert cli.confirmed_live(None) == "LIVE"
        else:
            with pytest.raises(cli.UserError, match="not confirmed"):
                cli.confirmed_live(None)
