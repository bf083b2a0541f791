"""Config and secrets safety: numbers that switch limits off, keys given twice, every problem
reported at once, URL schemes, and secrets that never show in an error."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import config
from engine.config import ConfigError
from engine.secrets import SecretError, Secrets
from storage.errors import StoreError
from storage.url import parse_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf", ".NaN"])
@pytest.mark.parametrize("key", ["max_position_risk_per_trade", "initial_capital_usd", "sim.speed",
                                 "risk.max_drawdown", "strategy_v2.change_threshold_mult"])
def test_nan_and_infinity_are_refused_for_every_number(tmp_path, key, text):
    path = tmp_path / "c.yaml"
    *parents, leaf = key.split(".")
    lines = [f"{'  ' * i}{p}:" for i, p in enumerate(parents)] + [f"{'  ' * len(parents)}{leaf}: {text}"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert f"`{key}`" in str(err.value) and "not a finite number" in str(err.value)


def test_a_key_given_twice_is_an_error_naming_it_and_its_lines(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("leverage: 5\nrisk:\n  max_drawdown: 0.1\n  max_drawdown: 0.9\nleverage: 20\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert err.value.problems == [
        f"{path}: key `leverage` is given twice (line 1 and line 5); keep one",
        f"{path}: key `max_drawdown` is given twice (line 3 and line 4); keep one",
    ]


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sim: &base {seed: 1}\nrisk:\n  max_drawdown: 0.2\n")
    assert config.load(path).risk.max_drawdown == 0.2


@pytest.mark.parametrize("url, ok", [
    ("http://127.0.0.1:9000", True), ("https://proxy.example", True), ("wss://x.example/ws", True),
    ("ftp://x.example", False), ("127.0.0.1:9000", False), ("http://", False),
])
def test_exchange_base_url_must_be_http_or_websocket(url, ok):
    data = {"exchange": {"base_url": url}}
    if ok:
        assert config.from_mapping(data).exchange.base_url == url
    else:
        with pytest.raises(ConfigError, match="`exchange.base_url` must be an http://"):
            config.from_mapping(data)


def test_a_percent_encoded_password_in_the_store_url_is_refused_and_never_shown():
    with pytest.raises(ConfigError) as err:
        config.from_mapping({"storage": {"url": "mysql://bot%3Ahunter2@127.0.0.1:3306/db"}})
    assert "password" in str(err.value) and "hunter2" not in str(err.value)
    with pytest.raises(StoreError) as err:
        parse_url("mysql://bot%3Ahunter2@127.0.0.1:3306/db")
    assert "password" in str(err.value) and "hunter2" not in str(err.value)


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **{v: str(tmp_path / v) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")}}
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)


def test_config_check_reports_every_problem_at_once(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.write_text("TRIFACTOR_API_KEY=k\n")
    secrets.chmod(0o644)
    path = tmp_path / "c.yaml"
    path.write_text(
        "leverage: 5\n"
        "max_position_risk_per_trade: .nan\n"
        "leverage: 7\n"
        "lev: 1\n"
        "exchange:\n"
        "  base_url: ftp://example.com\n"
        f"  secrets_file: {secrets}\n"
        "storage:\n"
        "  url: mysql://bot%3Ahunter2@127.0.0.1/db\n"
        "ui:\n"
        "  keys:\n"
        "    flatten_all: Ctrl+F\n"
        "    no_such_binding: x\n")
    done = run_cli("config", "check", str(path), tmp_path=tmp_path)
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    for words in ("`leverage` is given twice (line 1 and line 3)", "`max_position_risk_per_trade`: nan",
                  "unknown key `lev`", "`exchange.base_url`", "`storage.url` holds a password",
                  "`ui.keys.flatten_all`: 'Ctrl+F' is not a key name", "`ui.keys.no_such_binding`",
                  "chmod 600"):
        assert sum(words in line for line in lines) == 1, (words, lines)
    assert len(lines) == 8 and all(line.startswith("trifactor: error: ") for line in lines)
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


def test_config_check_accepts_valid_keymap_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ui:\n  keys:\n    flatten_all: ctrl+f\n    help: question_mark,f1\n    quit: Q\n")
    done = run_cli("config", "check", str(path), tmp_path=tmp_path)
    assert done.returncode == 0 and ": ok" in done.stdout, done.stderr


def test_a_malformed_secrets_line_names_file_and_line_but_never_its_content(tmp_path):
    f = tmp_path / "secrets"
    f.write_text("# keys\nTRIFACTOR_API_KEY=fine\nTRIFACTOR_API_SECRET s3cr3t-value-xyz\n")
    f.chmod(0o600)
    with pytest.raises(SecretError) as err:
        Secrets.load(f, environ={})
    assert str(err.value).startswith(f"secrets file {f}, line 3: expected KEY=value")
    assert "s3cr3t" not in str(err.value)
    f.write_text("s3cr3t-value-xyz==\n")
    with pytest.raises(SecretError) as err:
        Secrets.load(f, environ={})
    assert "line 1" in str(err.value) and "s3cr3t" not in str(err.value)


def test_a_secrets_file_owned_by_someone_else_is_refused(tmp_path, monkeypatch):
    f = tmp_path / "secrets"
    f.write_text("TRIFACTOR_API_KEY=k\n")
    f.chmod(0o600)
    if os.getuid() == 0:
        os.chown(f, 65534, 65534)
    else:
        monkeypatch.setattr("engine.secrets.os.getuid", lambda: f.stat().st_uid + 1)
    with pytest.raises(SecretError, match="belongs to another user"):
        Secrets.load(f, environ={})


def test_the_desk_does_not_start_with_a_key_textual_does_not_know(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ui:\n  keys:\n    flatten_all: ctrl-f\n")
    done = run_cli("run", "--config", str(path), tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"trifactor: error: {path}: `ui.keys.flatten_all`: 'ctrl-f' is not a key name "
                                   f"(examples: F, ctrl+f, f5, question_mark, escape)")
