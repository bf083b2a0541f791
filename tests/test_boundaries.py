"""The architecture's import boundaries, checked in fresh interpreters."""
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("tui", "engine", "strategy", "storage", "themes")


def modules_of(package: str) -> list[str]:
    pkg_dir = ROOT / package
    names = [package]
    for info in pkgutil.walk_packages([str(pkg_dir)], prefix=f"{package}."):
        names.append(info.name)
    return names


def loaded_after_import(module: str) -> set[str]:
    code = f"import importlib, json, sys; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", modules_of("strategy"))
def test_strategy_imports_nothing_of_ours(module):
    loaded = loaded_after_import(module)
    foreign = sorted(m for m in loaded if m.split(".")[0] in OURS and m.split(".")[0] != "strategy")
    assert foreign == [], f"{module} pulls in {foreign}"


@pytest.mark.parametrize("module", modules_of("engine") + modules_of("storage"))
def test_core_never_imports_the_desk(module):
    loaded = loaded_after_import(module)
    bad = sorted(m for m in loaded if m.split(".")[0] in ("textual", "tui"))
    assert bad == [], f"{module} pulls in {bad}"


def test_every_package_is_checked():
    assert len(modules_of("engine")) > 5 and len(modules_of("strategy")) > 1
