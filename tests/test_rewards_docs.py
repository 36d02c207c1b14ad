"""docs/rewards.md documents every built-in reward, and every built-in's docstring leads with a summary."""

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
