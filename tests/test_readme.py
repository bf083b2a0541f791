"""The README's config reference is generated from the config's own documentation."""
from pathlib import Path

from engine import config

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render() -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, default, doc in config.reference_rows():
        lines.append(f"| `{key}` | `{default}` | {doc.replace('|', '/')} |")
    return "\n".join(lines)


def test_config_reference_is_current():
    text = README.read_text(encoding="utf-8")
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == render(), "README config reference is stale: run python tests/test_readme.py"


def test_readme_has_exactly_the_two_quick_start_commands():
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("## ", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2 and commands[0].endswith("trifactor") and commands[1].endswith("python -m pytest")


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{render()}\n{END}{tail}", encoding="utf-8")
