"""Limits of the engine's load settings, shared by the CLI flags, config.toml and the loaders."""

from __future__ import annotations

MIN_CTX = 16
"""The smallest context a model is loaded with (``--n-ctx``, ``n_ctx`` in config.toml)."""
