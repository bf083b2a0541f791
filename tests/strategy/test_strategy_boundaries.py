"""strategy is a leaf: numpy, pandas and the standard library only."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import strategy

PACKAGE = Path(strategy.__file__).parent
REPO = PACKAGE.parent
PROJECT_PACKAGES = {"tui", "engine", "storage", "themes"}
ALLOWED = {"numpy", "pandas"} | set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_sources_import_only_numpy_pandas_and_stdlib():
    for path in sorted(PACKAGE.glob("*.py")):
        outside = _imports(path) - ALLOWED
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_importing_strategy_pulls_in_nothing_of_ours_and_no_io_machinery():
    code = (
        "import json, logging, sys; import strategy;"
        "print(json.dumps({'modules': sorted(sys.modules), 'handlers': len(logging.root.handlers)}))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    roots = {name.split(".")[0] for name in report["modules"]}
    assert not roots & PROJECT_PACKAGES
    assert "asyncio" not in roots
    assert report["handlers"] == 0
