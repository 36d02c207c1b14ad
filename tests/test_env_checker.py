"""`rlft check-env`: every built-in passes; a user environment that breaks the contract fails with a message
that says what is wrong (exit 1); bad arguments exit 2."""

import json

import pytest

from rlft.cli import main
from rlft.envs import ENVIRONMENTS, resolve_env
from rlft.envs.checker import check_env

GOOD = '''
from rlft.envs.base import Environment


class Coin(Environment):
    """Call heads to win."""

    def reset(self, **row):
        self._begin()
        return "Call the coin."

    def call(self, side: str) -> str:
        """Call the coin.

        Args:
            side: "heads" or "tails".
        """
        return self._turn(self._call, side)

    def _call(self, side):
        self._finish(1.0 if side == "heads" else 0.0)
        return "done"

    @classmethod
    def rows(cls, n, seed):
        return [{"id": i} for i in range(n)]

    @classmethod
    def optimal_policy(cls, row):
        return [("call", {"side": "heads"})]

    @classmethod
    def optimal_return(cls, row):
        return 1.0
'''

# (name, change to GOOD, what the violation says)
BROKEN = [
    ("raises_in_reset", ('return "Call the coin."', 'raise RuntimeError("no coin")'),
     "reset(**row) raised RuntimeError: no coin"),
    ("untyped_tool", ("def call(self, side: str) -> str:", "def call(self, side):"),
     "tool 'call': Argument side is missing a type hint"),
    ("no_docstring",
     ('        """Call the coin.\n\n        Args:\n            side: "heads" or "tails".\n        """\n', ""),
     "tool 'call' has no docstring"),
    ("nan_reward", ("self._finish(1.0 if", "self.score = float('nan'); self.done = True; (1.0 if"),
     "get_reward() returned nan; a reward is a finite number"),
    ("raises_on_bad_argument", ('side == "heads"', 'side.upper() == "HEADS"'), "raised AttributeError"),
    ("wrong_optimum", ("        return 1.0\n", "        return 0.5\n"),
     "the scripted policy scored 1, optimal_return says 0.5"),
    ("no_budget", ("return self._turn(self._call, side)", "return self._call(side)"),
     "actions after max_turns 3 changed the reward"),
    ("seeded_by_clock",
     ('return [{"id": i} for i in range(n)]', 'import time; return [{"t": time.perf_counter_ns()}] * n'),
     "differ between two calls: seed the generator"),
]


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_builtins_pass(name, capsys):
    assert main(["check-env", name, "--episodes", "8", "--max-turns", "12"]) == 0
    out = capsys.readouterr().out
    assert f"environment '{name}': ok" in out and "deterministic under a seed: yes" in out


def test_good_user_environment_passes(tmp_path):
    (tmp_path / "coin.py").write_text(GOOD)
    report = check_env(resolve_env(f"{tmp_path / 'coin.py'}:Coin", max_turns=3), episodes=5)
    assert report.ok, report.render()
    assert (report.tools, report.optimal_mean, report.deterministic) == (["call"], 1.0, True)
    assert report.random_mean < 1.0


def test_minimal_user_environment_passes_with_warnings(tmp_path):
    """A class with only reset and a tool: no rows, no scripted policy, no get_reward."""
    (tmp_path / "echo.py").write_text('''
class Echo:
    def reset(self, **row):
        self.said = []

    def say(self, text: str) -> str:
        """Say something.

        Args:
            text: What to say.
        """
        self.said.append(text)
        return str(len(self.said))
''')
    report = check_env(resolve_env(f"{tmp_path / 'echo.py'}:Echo"), episodes=3)
    assert report.ok, report.render()
    assert report.optimal_mean is None and report.random_mean is None and report.deterministic
    assert any("no get_reward()" in w for w in report.warnings)
    assert any("no rows(n, seed" in w for w in report.warnings)


@pytest.mark.parametrize("name, change, message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_user_environment_fails(name, change, message, tmp_path, capsys):
    assert change[0] in GOOD
    path = tmp_path / f"{name}.py"
    path.write_text(GOOD.replace(*change))
    out_json = tmp_path / "report.json"
    assert main(["check-env", f"{path}:Coin", "--episodes", "4", "--max-turns", "3", "--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    assert "CONTRACT VIOLATED" in out and message in out, out
    assert json.loads(out_json.read_text())["ok"] is False


@pytest.mark.parametrize("args, message", [
    (["maze", "--kwargs", "{sise: 3}"], "takes no kwarg 'sise'"),
    (["maze", "--kwargs", "[1]"], "must be a mapping"),
    (["maze", "--max-turns", "0"], "--max-turns: must be at least 1"),
    (["mazes"], "did you mean 'maze'"),
    (["rlft.envs.maze:Nope"], "has no 'Nope'"),
])
def test_bad_arguments_exit_2(args, message, capsys):
    assert main(["check-env", *args]) == 2
    assert message in capsys.readouterr().err


def test_list_environments(capsys):
    assert main(["list", "environments"]) == 0
    out = capsys.readouterr().out
    assert "guess_number (tools: guess)" in out and "calculator (tools: answer, calc)" in out
