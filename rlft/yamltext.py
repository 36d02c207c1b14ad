"""Reading a recipe's YAML: PyYAML's safe loader, except that a key given twice is an error, with a one-line
message that says where the problem is."""

from __future__ import annotations

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping: plain YAML keeps the last one, so a
    second `sft:` stage (or `seed:`) would silently replace the first."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark)
            if isinstance(key, (str, int, float, bool)):
                seen.add(key)
        return super().construct_mapping(node, deep)


def problem(e: yaml.YAMLError) -> str:
    """'line 3, column 5: expected ',' or ']', but got '<stream end>'' from a PyYAML error."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    text = " ".join(str(getattr(e, "problem", None) or e).split())
    context = getattr(e, "context", None)
    if context and getattr(e, "problem", None):
        text = f"{text} ({' '.join(context.split())})"
    return f"line {mark.line + 1}, column {mark.column + 1}: {text}" if mark else text


def load(text: str):
    """Parse YAML text; a syntax error, an unsafe tag or a repeated key raises ValueError (see `problem`)."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as e:
        raise ValueError(problem(e)) from None
