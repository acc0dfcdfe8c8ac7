"""Fixtures of the tmux end-to-end tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from tmuxapp import Tmux

collect_ignore = ["tmuxapp.py"]


@pytest.fixture
def term() -> Iterator[Tmux]:
    """The app's terminal: a tmux server of its own (skipped when tmux is missing)."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    t = Tmux()
    yield t
    t.close()
