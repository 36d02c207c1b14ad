"""`maze`: walk a small text grid from S to G with `move(direction)`.

Reward: `discount ** (moves - 1)` when the goal is reached within the turn budget, else 0; a move into a wall
or off the grid spends a turn and leaves the walker in place. Optimum: a breadth-first-search shortest path,
return `discount ** (shortest - 1)`.
"""

from __future__ import annotations

import random
from collections import deque

from rlft.envs.base import Environment

MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


def find(grid: list[str], mark: str) -> tuple[int, int]:
    """The (row, column) of `mark` in the grid.

    >>> find(["S.", "#G"], "G")
    (1, 1)
    """
    return next((r, line.index(mark)) for r, line in enumerate(grid) if mark in line)


def open_cell(grid: list[str], r: int, c: int) -> bool:
    return 0 <= r < len(grid) and 0 <= c < len(grid[r]) and grid[r][c] != "#"


def shortest_path(grid: list[str]) -> list[str] | None:
    """The moves of a shortest path from S to G (breadth-first search), None when G cannot be reached.

    >>> shortest_path(["S.#", "#..", "##G"]), shortest_path(["S#G"])
    (['right', 'down', 'right', 'down'], None)
    """
    start, goal = find(grid, "S"), find(grid, "G")
    came = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            path = []
            while came[cell] is not None:
                cell, move = came[cell]
                path.append(move)
            return path[::-1]
        for move, (dr, dc) in MOVES.items():
            nxt = (cell[0] + dr, cell[1] + dc)
            if nxt not in came and open_cell(grid, *nxt):
                came[nxt] = (cell, move)
                queue.append(nxt)
    return None


class Maze(Environment):
    """Reach G from S on the row's grid; # is a wall."""

    def reset(self, grid: str, discount: float = 0.9, **row) -> str:
        """Start an episode on the row's `grid` (lines joined by newlines)."""
        self._begin()
        self.grid, self.discount = grid.split("\n"), float(discount)
        self.position, self.goal = find(self.grid, "S"), find(self.grid, "G")
        return (f"Walk from S to G in this maze (# is a wall) with the move tool; you have {self.max_turns} "
                f"moves.\n{grid}")

    def move(self, direction: str) -> str:
        """Move one cell.

        Args:
            direction: One of "up", "down", "left", "right".

        Returns:
            Where you are now and which directions are open.
        """
        return self._turn(self._move, direction)

    def _move(self, direction) -> str:
        step = MOVES.get(direction.strip().lower()) if isinstance(direction, str) else None
        if step is None:
            return self._invalid(f"direction must be one of {', '.join(MOVES)}, got {direction!r}")
        r, c = self.position[0] + step[0], self.position[1] + step[1]
        if not open_cell(self.grid, r, c):
            return f"blocked; {self._where()}"
        self.position = (r, c)
        if self.position == self.goal:
            self._finish(self.discount ** (self.turns - 1))
            return "goal reached"
        return f"moved {direction.strip().lower()}; {self._where()}"

    def _where(self) -> str:
        r, c = self.position
        ways = [m for m, (dr, dc) in MOVES.items() if open_cell(self.grid, r + dr, c + dc)]
        return f"at row {r}, column {c}; open: {', '.join(ways) or 'none'}"

    @classmethod
    def rows(cls, n: int, seed: int, size: int = 5, walls: float = 0.3, discount: float = 0.9) -> list[dict]:
        """n random size x size grids, each with a path from S to G (grids without one are drawn again)."""
        if size < 2 or not 0 <= walls < 1 or not 0 < discount <= 1:
            raise ValueError(f"need size >= 2, 0 <= walls < 1, 0 < discount <= 1, got size={size}, walls={walls}, "
                             f"discount={discount}")
        rng = random.Random(seed)
        out = []
        while len(out) < n:
            cells = [["#" if rng.random() < walls else "." for _ in range(size)] for _ in range(size)]
            (sr, sc), (gr, gc) = rng.sample([(r, c) for r in range(size) for c in range(size)], 2)
            cells[sr][sc], cells[gr][gc] = "S", "G"
            grid = ["".join(line) for line in cells]
            if shortest_path(grid) is not None:
                out.append({"grid": "\n".join(grid), "discount": discount})
        return out

    @classmethod
    def optimal_policy(cls, row: dict) -> list[tuple[str, dict]]:
        """The moves of a shortest path."""
        return [("move", {"direction": m}) for m in shortest_path(row["grid"].split("\n"))]

    @classmethod
    def optimal_return(cls, row: dict) -> float:
        """`discount ** (shortest - 1)`."""
        return row.get("discount", 0.9) ** (len(shortest_path(row["grid"].split("\n"))) - 1)
