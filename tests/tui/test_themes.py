"""Theme files: validated, registered, with a clear message and a fallback for a bad one."""
import re
from pathlib import Path

import pytest

from textual.color import Color

from themes import BUILTIN_DIR, ThemeFileError, load_theme_file, load_themes, theme_from_mapping
from themes.loader import REQUIRED_VARIABLES

GOOD = 'name = "{name}"\nprimary = "#112233"\n[variables]\nprofit = "#0000ff"\nloss = "#ff8800"\n'


def test_the_four_built_in_themes_load_without_problems():
    found = load_themes()
    assert found.problems == []
    assert found.names == ["dark", "light", "high-contrast", "colorblind"]


def test_every_built_in_theme_names_a_gain_and_a_loss_colour_that_differ():
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        theme = load_theme_file(path)
        profit, loss = (Color.parse(theme.variables[k]) for k in REQUIRED_VARIABLES)
        assert profit != loss, path.name


def test_the_colour_blind_theme_does_not_pit_red_against_green():
    theme = load_theme_file(BUILTIN_DIR / "colorblind.toml")
    profit = Color.parse(theme.variables["profit"])
    # Okabe-Ito: gains are blue (more blue than green or red).
    assert profit.b > profit.g and profit.b > profit.r


def test_a_bad_file_is_skipped_with_a_message_naming_file_and_key(tmp_path: Path):
    (tmp_path / "broken.toml").write_text(GOOD.format(name="broken").replace("#112233", "blurple"))
    (tmp_path / "extra.toml").write_text('flavour = "mint"\n' + GOOD.format(name="extra"))
    (tmp_path / "nopnl.toml").write_text('name = "nopnl"\nprimary = "#112233"\n')
    (tmp_path / "garbage.toml").write_text("name = [unclosed")
    found = load_themes(tmp_path)
    assert set(found.names) == {"dark", "light", "high-contrast", "colorblind"}
    text = "\n".join(found.problems)
    assert "broken.toml: `primary`: 'blurple' is not a colour" in text
    assert "extra.toml: unknown key `flavour`" in text
    assert "nopnl.toml: `variables.profit` is required" in text
    assert "garbage.toml: not valid TOML" in text


def test_a_user_theme_is_added_and_cycles_after_the_built_in_ones(tmp_path: Path):
    (tmp_path / "mine.toml").write_text(GOOD.format(name="mine"))
    found = load_themes(tmp_path)
    assert found.names[-1] == "mine"
    assert found.after("colorblind") == "mine"
    assert found.after("mine") == "dark"
    assert found.after("not-a-theme") == "dark"


def test_when_no_file_can_be_used_the_built_in_dark_theme_remains(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("themes.loader.BUILTIN_DIR", tmp_path / "missing")
    found = load_themes()
    assert found.names == ["dark"]
    assert "built-in dark theme" in found.problems[-1]


@pytest.mark.parametrize("data, message", [
    ({"primary": "#000"}, "`name` must be a non-empty string"),
    ({"name": "x", "primary": "#000", "dark": "yes"}, "`dark` must be true or false"),
    ({"name": "x"}, "`primary` is required"),
    ({"name": "x", "primary": "#000", "luminosity_spread": 3}, "`luminosity_spread` must be a number"),
    ({"name": "x", "primary": "#000", "variables": {"profit": 1, "loss": "#fff"}}, "`variables.profit`"),
])
def test_mapping_validation_names_the_key(data, message):
    with pytest.raises(ThemeFileError, match=re.escape(message)):
        theme_from_mapping(data, "t.toml")
