import os
import stat

import pytest
import yaml

from engine import config
from engine.config import ConfigError
from engine.secrets import Secret, SecretError, Secrets


def test_defaults_match_the_seed():
    cfg = config.load(None)
    assert cfg.trading_mode == "paper" and cfg.market == "sim"
    assert cfg.leverage == 5 and cfg.initial_capital_usd == 10000
    assert cfg.max_position_risk_per_trade == 0.01 and cfg.max_total_risk_exposure == 0.10
    s = cfg.strategy_v2
    assert (s.lookback_long, s.lookback_medium, s.lookback_short) == (240, 120, 24)
    assert (s.funding_roll, s.mr_roll, s.flow_roll, s.perf_roll, s.perf_smooth_span) == (144, 96, 120, 192, 60)
    assert (s.funding_weight_base, s.mr_weight_base, s.flow_weight_base) == (0.5, 0.3, 0.2)
    assert cfg.strategy_params()["target_signal_volatility"] == 0.2


def test_sample_round_trips_to_the_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(config.sample_yaml())
    assert config.load(path) == config.load(None)


def test_every_key_is_documented():
    rows = config.reference_rows()
    assert len(rows) > 40
    assert all(doc.strip() for _, _, doc in rows)


@pytest.mark.parametrize(
    "data, words",
    [
        ({"leverage": "five"}, ["`leverage`", "expected int"]),
        ({"leverage": 0}, ["`leverage`", "below the minimum"]),
        ({"risk": {"max_drawdown": 3}}, ["`risk.max_drawdown`", "above the maximum"]),
        ({"trading_mode": "yolo"}, ["`trading_mode`", "not one of"]),
        ({"lev": 5}, ["unknown key `lev`"]),
        ({"strategy_v2": {"lookback": 5}}, ["unknown key `strategy_v2.lookback`"]),
        ({"exchange": {"api_key": "abc"}}, ["`exchange.api_key`", "secret"]),
        ({"binance": {"api_key": "abc"}}, ["`binance`", "TRIFACTOR_API_KEY"]),
        ({"universe": {"symbol_list": []}}, ["symbol_list", "no symbol"]),
        ({"universe": {"symbol_list": "BTCUSDT"}}, ["`universe.symbol_list`", "list"]),
        ({"storage": {"url": "postgres://x"}}, ["`storage.url`"]),
        ({"storage": {"url": "mysql://u:hunter2@h/db"}}, ["`storage.url`", "password"]),
        ({"market": "replay"}, ["replay_path"]),
        ({"instance": "two words"}, ["`instance`", "'two words'", "1-32 letters"]),
        ({"instance": ""}, ["`instance`", "1-32 letters"]),
        ({"instance": "x" * 33}, ["`instance`", "1-32 letters"]),
        ({"instance": "a/b"}, ["`instance`", "1-32 letters"]),
        ({"instance": 7}, ["`instance`", "expected str"]),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, data, words):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message
    assert "hunter2" not in message


def test_instance_names_default_and_allowed_characters():
    assert config.load(None).instance == "default"
    assert config.load(None, {"instance": "eu-west_2.b"}).instance == "eu-west_2.b"


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("leverage: 5\nuniverse: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML at line \d"):
        config.load(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.yaml")


def test_overrides_are_validated_too():
    assert config.load(None, {"sim": {"speed": 50}}).sim.speed == 50
    with pytest.raises(ConfigError, match="sim.speed"):
        config.load(None, {"sim": {"speed": -1}})


def test_ints_are_accepted_for_floats_and_symbols_are_normalised():
    cfg = config.from_mapping({"initial_capital_usd": 5000, "universe": {"symbol_list": ["btcusdt", " ethusdt"]}})
    assert cfg.initial_capital_usd == 5000.0 and cfg.symbols() == ["BTCUSDT", "ETHUSDT"]


def test_exclusions_apply():
    cfg = config.from_mapping({"universe": {"symbol_list": ["BTCUSDT", "ETHUSDT"], "exclude_symbols": ["ETHUSDT"]}})
    assert cfg.symbols() == ["BTCUSDT"]


def test_secrets_come_from_the_environment():
    s = Secrets.load(environ={"TRIFACTOR_TESTNET_API_KEY": "k", "TRIFACTOR_TESTNET_API_SECRET": "s"})
    pair = s.keys_for("testnet")
    assert pair is not None and pair[0].reveal() == "k"
    assert s.keys_for("live") is None and s.keys_for("paper") is None
    assert "k" not in repr(pair) and "s'" not in str(pair[1])


def test_secrets_file_must_be_private(tmp_path):
    f = tmp_path / "secrets"
    f.write_text("TRIFACTOR_API_KEY=abc\nTRIFACTOR_API_SECRET=def\n")
    os.chmod(f, 0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        Secrets.load(f, environ={})
    os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
    s = Secrets.load(f, environ={})
    assert s.keys_for("live")[1].reveal() == "def"
    assert "def" not in repr(s)


def test_secrets_file_rejects_unknown_keys_without_echoing_values(tmp_path):
    f = tmp_path / "secrets"
    f.write_text("API_KEY=topsecretvalue\n")
    os.chmod(f, 0o600)
    with pytest.raises(SecretError) as err:
        Secrets.load(f, environ={})
    assert "API_KEY" in str(err.value) and "topsecretvalue" not in str(err.value)


def test_environment_wins_over_file(tmp_path):
    f = tmp_path / "secrets"
    f.write_text("TRIFACTOR_DB_PASSWORD=fromfile\n")
    os.chmod(f, 0o600)
    assert Secrets.load(f, environ={"TRIFACTOR_DB_PASSWORD": "fromenv"}).db_password.reveal() == "fromenv"
    assert Secret("x").__repr__() == "Secret('****')"
