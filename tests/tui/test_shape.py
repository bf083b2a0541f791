"""The app owns the engine and the screens; screens, widgets and actions never import the app,
so nothing in the desk imports itself in a circle."""
from __future__ import annotations

import ast
from pathlib import Path

import tui

TUI = Path(tui.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_the_app_shows_imports_the_app():
    below_the_app = [p for p in TUI.rglob("*.py") if p.name not in ("app.py", "cli.py", "__main__.py")]
    assert any(p.name == "desk.py" for p in below_the_app)
    offenders = {str(p.relative_to(TUI)) for p in below_the_app if "tui.app" in imported_modules(p)}
    assert offenders == set()


def test_the_desk_screen_is_given_its_host_explicitly():
    import inspect

    from tui.screens.desk import DeskScreen

    assert list(inspect.signature(DeskScreen).parameters) == ["host"]
