"""docs/rewards.md documents every built-in reward, and every built-in's docstring leads with a summary."""

import inspect
import re

from conftest import ROOT

from rlft.rewards import REWARDS


def test_every_builtin_has_a_section_in_the_docs():
    text = (ROOT / "docs" / "rewards.md").read_text()
    sections = set(re.findall(r"^### `(\w+)`$", text, re.MULTILINE))
    assert set(REWARDS) - sections == set()
    assert sections - set(REWARDS) == set()


def test_every_builtin_summary_is_short():
    for name, entry in REWARDS.items():
        assert 0 < len(entry.summary) <= 400, name


def columns_text(entry) -> str:
    """What a registry entry declares it reads, as docs/data.md's table says it."""
    if callable(entry.columns):
        return " ".join(inspect.getdoc(entry.columns).split())
    return " or ".join(f"`{c}`" for c in entry.columns) or "none"


def columns_table() -> str:
    return "".join(f"| `{name}` | {columns_text(entry)} |\n" for name, entry in REWARDS.items())


def test_the_columns_table_in_the_data_docs_is_the_registry_s():
    """Regenerate with: python -c 'import test_rewards_docs as t; print(t.columns_table())' from tests/."""
    text = (ROOT / "docs" / "data.md").read_text()
    start = text.index("| reward | dataset columns it reads |\n| --- | --- |\n")
    table = text[start:].split("\n\n")[0].split("\n", 2)[2] + "\n"
    assert table == columns_table()
