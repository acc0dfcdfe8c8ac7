"""Blind-comparison votes: the table (a migration), one row per vote, the win table per model.

A vote names the models compared, in column order (``[{"name", "model"}]``: what the user
called each and the file it ran), and the winner's index (None: a tie). The win table counts,
per model name, comparisons, wins, ties and losses; models are keyed by name because one file
may be compared under two presets or templates.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

VOTES_SQL = """
CREATE TABLE votes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      TEXT NOT NULL,
    prompt          TEXT NOT NULL DEFAULT '',
    models          TEXT NOT NULL,
    winner          INTEGER,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL
)
"""


def create_table(conn: sqlite3.Connection) -> None:
    """The migration that adds the votes table."""
    conn.execute(VOTES_SQL)


@dataclass(frozen=True)
class Vote:
    id: int
    created_at: str
    prompt: str
    models: list[dict[str, str]]
    """The models compared, in column order: ``{"name", "model"}``."""
    winner: int | None
    """Index into ``models``; None: a tie."""


def vote_from_row(row: sqlite3.Row) -> Vote:
    return Vote(
        row["id"], row["created_at"], row["prompt"], json.loads(row["models"]), row["winner"]
    )


def insert_sql(
    created_at: str, prompt: str, models: Sequence[dict[str, str]], winner: int | None
) -> tuple[str, tuple[Any, ...]]:
    """The INSERT for one vote; a winner outside ``models`` is a ValueError."""
    if winner is not None and not 0 <= winner < len(models):
        raise ValueError(f"winner {winner} is not one of {len(models)} models")
    return (
        "INSERT INTO votes (created_at, prompt, models, winner) VALUES (?, ?, ?, ?)",
        (created_at, prompt, json.dumps(list(models), ensure_ascii=False), winner),
    )


@dataclass
class Standing:
    """One model's line of the win table."""

    name: str
    compared: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0

    @property
    def win_rate(self) -> float:
        """Wins over comparisons, a tie counting half."""
        return (self.wins + self.ties / 2) / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "compared": self.compared,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "win_rate": round(self.win_rate, 4),
        }


def win_table(votes: Iterable[Vote]) -> list[Standing]:
    """Per model name: comparisons, wins, ties, losses; best win rate first."""
    table: dict[str, Standing] = {}
    for vote in votes:
        for i, entry in enumerate(vote.models):
            row = table.setdefault(entry["name"], Standing(entry["name"]))
            row.compared += 1
            if vote.winner is None:
                row.ties += 1
            elif vote.winner == i:
                row.wins += 1
            else:
                row.losses += 1
    return sorted(table.values(), key=lambda s: (-s.win_rate, -s.compared, s.name))
