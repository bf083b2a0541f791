"""Theme files: TOML, validated, turned into Textual themes.

A broken or unknown file never stops the desk: it is skipped with a message that names
the file and the key, and the desk falls back to a built-in theme.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

BUILTIN_DIR = Path(__file__).resolve().parent
BUILTIN_ORDER = ("dark", "light", "high-contrast", "colorblind")
COLOUR_KEYS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
               "background", "surface", "panel", "boost")
NUMBER_KEYS = ("luminosity_spread", "text_alpha")
# The two colours that tell a gain from a loss; each theme must name them.
REQUIRED_VARIABLES = ("profit", "loss")

# Used only when no theme file at all can be read.
FALLBACK = Theme(name="dark", primary="#3B82C4", warning="#E0A030", error="#E5534B",
                 success="#3FB950", background="#0F1419", dark=True,
                 variables={"profit": "#3FB950", "loss": "#F85149"})


class ThemeFileError(Exception):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass
class ThemeSet:
    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        builtin = [n for n in BUILTIN_ORDER if n in self.themes]
        return builtin + sorted(n for n in self.themes if n not in BUILTIN_ORDER)

    def after(self, name: str) -> str:
        names = self.names
        return names[(names.index(name) + 1) % len(names)] if name in names else names[0]


def _colour(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{where}: expected a colour string such as \"#3B82C4\", got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{where}: {value!r} is not a colour") from None
    return value


def theme_from_mapping(data: Any, source: str) -> Theme:
    if not isinstance(data, dict):
        raise ThemeFileError(f"{source}: expected a table of keys")
    known = {"name", "dark", "variables", *COLOUR_KEYS, *NUMBER_KEYS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeFileError(f"{source}: unknown key `{unknown[0]}` (known: {', '.join(sorted(known))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{source}: `name` must be a non-empty string")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{source}: `dark` must be true or false")
    if "primary" not in data:
        raise ThemeFileError(f"{source}: `primary` is required")
    kwargs: dict[str, Any] = {k: _colour(data[k], f"{source}: `{k}`") for k in COLOUR_KEYS if k in data}
    for key in NUMBER_KEYS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ThemeFileError(f"{source}: `{key}` must be a number from 0 to 1, got {value!r}")
            kwargs[key] = float(value)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{source}: `variables` must be a table")
    for key in REQUIRED_VARIABLES:
        if key not in variables:
            raise ThemeFileError(f"{source}: `variables.{key}` is required (the colour of a {key})")
    checked = {}
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"{source}: `variables.{key}` must be a string, got {value!r}")
        checked[key] = _colour(value, f"{source}: `variables.{key}`") if key in REQUIRED_VARIABLES else value
    return Theme(name=name.strip(), dark=dark, variables=checked, **kwargs)


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ThemeFileError(f"{path}: cannot be read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ThemeFileError(f"{path}: not valid TOML ({e})") from None
    return theme_from_mapping(data, str(path))


def load_themes(*directories: Path) -> ThemeSet:
    """Every *.toml theme in the built-in directory, then in `directories` (later files win)."""
    result = ThemeSet()
    for directory in (BUILTIN_DIR, *directories):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as e:
                result.problems.append(str(e))
                continue
            result.themes[theme.name] = theme
    if not result.themes:
        result.themes[FALLBACK.name] = FALLBACK
        result.problems.append("no theme file could be used; the built-in dark theme is in use")
    return result
