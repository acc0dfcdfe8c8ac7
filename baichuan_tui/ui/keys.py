"""Key names as Textual knows them, and the ``[keymap]`` of config.toml checked against them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from textual.binding import Binding, BindingType
from textual.keys import Keys, key_to_character

from baichuan_tui.settings import Settings, check_keymap

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED = frozenset(k.value.rsplit("+", 1)[-1] for k in Keys) | {"newline"}

BindingGroups = Sequence[tuple[str, Sequence[BindingType]]]
"""(where, bindings) pairs: the keys of one part of the app."""


def is_key_name(key: str) -> bool:
    """Whether Textual can deliver ``key`` (``ctrl+r``, ``f5``, ``question_mark``, ``?``)."""
    *mods, name = key.split("+")
    if not name or any(m not in MODIFIERS for m in mods):
        return False
    return name in _NAMED or key_to_character(name) is not None


def binding_ids(groups: BindingGroups) -> set[str]:
    """The ids ``[keymap]`` can rebind."""
    return {b.id for _, bindings in groups for b in bindings if isinstance(b, Binding) and b.id}


def checked_keymap(settings: Settings, groups: BindingGroups) -> Settings:
    """``settings`` with only the usable ``[keymap]`` entries, and a warning for the rest."""
    usable, warning = check_keymap(settings.keymap, is_key=is_key_name, ids=binding_ids(groups))
    if warning is None:
        return settings
    return replace(settings, keymap=usable, warnings=(*settings.warnings, warning))
