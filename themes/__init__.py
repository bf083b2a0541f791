"""The desk's themes: TOML files in this directory (and the user's), validated and loaded."""
from themes.loader import (BUILTIN_DIR, FALLBACK, ThemeFileError, ThemeSet, load_theme_file,
                           load_themes, theme_from_mapping)

__all__ = ["BUILTIN_DIR", "FALLBACK", "ThemeFileError", "ThemeSet", "load_theme_file", "load_themes",
           "theme_from_mapping"]
