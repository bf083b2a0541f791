"""Reading a config file's YAML, apart from engine.config so that a run without a config file
never loads PyYAML."""
from __future__ import annotations

from typing import Any

import yaml

from engine.config import ConfigError


def parse(text: str, where: str) -> tuple[Any, list[str]]:
    """The document in `text` (from `where`), and a sentence for each key given twice."""
    loader = _UniqueKeyLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    finally:
        loader.dispose()
    duplicates = [f"{where}: key `{key}` is given twice (line {first} and line {again}); keep one"
                  for key, first, again in loader.duplicates]
    return data, duplicates


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word; here each repeat is noted
    (key, first line, repeated line), so a setting written twice cannot silently win."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                self.duplicates.append((key_node.value, seen[key_node.value], line))
            else:
                seen[key_node.value] = line
        return super().construct_mapping(node, deep)
