"""A conversation as a tree of messages: each message names its parent (``parent_id``; None
for a first message), siblings are alternatives (a regenerated reply, an edited message).

The *active path* is the one chat the app shows: from a root down to the current leaf. The
leaf is stored per conversation (``conversations.current_leaf``); when it is unknown or gone,
the newest message stands in, and from a message with children the path follows the newest
child each time (so a path always ends at a leaf).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baichuan_tui.store.conversations import StoredMessage


@dataclass
class Tree:
    """Every message of one conversation, in the order they were made, and its current leaf."""

    messages: list[StoredMessage]
    current: int | None = None
    """The message the active path runs through (None: the newest one)."""

    def get(self, msg_id: int | None) -> StoredMessage | None:
        return next((m for m in self.messages if m.id == msg_id), None)

    def children(self, parent_id: int | None) -> list[StoredMessage]:
        """The replies to ``parent_id`` (None: the first messages), oldest first."""
        return self._kids().get(parent_id, [])

    def _kids(self) -> dict[int | None, list[StoredMessage]]:
        kids: dict[int | None, list[StoredMessage]] = {}
        for m in self.messages:
            kids.setdefault(m.parent_id, []).append(m)
        return kids

    def siblings(self, msg_id: int) -> list[StoredMessage]:
        """``msg_id`` and its alternatives (same parent), oldest first; [] when not here."""
        msg = self.get(msg_id)
        return [] if msg is None else self.children(msg.parent_id)

    def newest_leaf(self, msg_id: int) -> int:
        """Where the path through ``msg_id`` ends: the newest child, each time, down to a
        leaf."""
        kids = self._kids()
        while msg_id in kids:
            msg_id = kids[msg_id][-1].id
        return msg_id

    def leaf(self) -> int | None:
        """The end of the active path (None: no messages)."""
        start = self.current if self.get(self.current) is not None else None
        if start is None:
            if not self.messages:
                return None
            start = self.messages[-1].id
        return self.newest_leaf(start)

    def path(self) -> list[StoredMessage]:
        """The active path, root first."""
        by_id = {m.id: m for m in self.messages}
        out: list[StoredMessage] = []
        node = self.leaf()
        while node is not None and node in by_id and len(out) <= len(by_id):
            out.append(by_id[node])
            node = by_id[node].parent_id
        return out[::-1]

    def subtree(self, msg_id: int) -> set[int]:
        """``msg_id`` and every message below it."""
        found = {msg_id}
        for m in self.messages:  # creation order: a parent comes before its children
            if m.parent_id in found:
                found.add(m.id)
        return found

    def remove(self, msg_id: int) -> None:
        """Drop ``msg_id`` and its subtree; a current leaf inside it moves to the parent."""
        gone = self.subtree(msg_id)
        msg = self.get(msg_id)
        if self.current in gone:
            self.current = msg.parent_id if msg is not None else None
        self.messages = [m for m in self.messages if m.id not in gone]

    def positions(self) -> dict[int, tuple[int, int]]:
        """For each message on the active path that has alternatives: (its place among
        them from 1, how many there are)."""
        out = {}
        kids = self._kids()
        for m in self.path():
            sibs = kids[m.parent_id]
            if len(sibs) > 1:
                out[m.id] = ([s.id for s in sibs].index(m.id) + 1, len(sibs))
        return out
