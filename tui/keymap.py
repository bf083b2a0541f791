"""Checking `ui.keys` before the desk starts: every binding id must exist and every key must
be one Textual can deliver, or the key would silently never fire (worst for flatten)."""
from __future__ import annotations

from textual.keys import Keys, _normalize_key_list, key_to_character

from engine.config import Config
from tui.bindings import ALL_BINDING_IDS, unknown_binding_ids

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
NAMED_KEYS = frozenset(k.value for k in Keys if "+" not in k.value and not k.value.startswith("<"))


def is_valid_key(key: str) -> bool:
    """`key` is one key as Textual names it: `F`, `question_mark`, `f5`, `ctrl+shift+x`..."""
    *modifiers, name = key.split("+")
    if not name or any(m not in MODIFIERS for m in modifiers):
        return False
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    return name in NAMED_KEYS or key_to_character(name) is not None


def keymap_problems(config: Config, source: str) -> list[str]:
    keys = config.ui.keys
    problems = [f"{source}: `ui.keys.{binding_id}` is not a binding of the desk "
                f"(known: {', '.join(sorted(ALL_BINDING_IDS))})" for binding_id in unknown_binding_ids(keys)]
    for binding_id, value in keys.items():
        parts = [p for p in _normalize_key_list(value).split(",")]
        bad = [p for p in parts if not is_valid_key(p)]
        if bad:
            problems.append(f"{source}: `ui.keys.{binding_id}`: {', '.join(map(repr, bad))} is not a key name "
                            f"(examples: F, ctrl+f, f5, question_mark, escape)")
    return problems
