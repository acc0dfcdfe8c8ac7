"""The chat screen's branches: which version of each message is shown (``2/3`` in its header),
and switching between versions (←/→ or [/] on a message, Ctrl+Z after a regenerate).

The store keeps the tree (:mod:`baichuan_tui.store.tree`); the screen shows its active path.
After a switch only the messages from the first one that differs are drawn again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baichuan_tui.ui.widgets.messages import MessageView

if TYPE_CHECKING:
    from baichuan_tui.store.conversations import Store
    from baichuan_tui.ui.screens.chat import ChatScreen


class Branches:
    """Shows the open chat's active path and moves it between versions."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    @property
    def store(self) -> Store:
        return self.screen.store

    def mark(self) -> None:
        """Put ``n/total`` in the header of every shown message that has other versions."""
        conv = self.screen.state.conversation
        places = self.store.tree(conv.id).positions() if conv is not None else {}
        for view in self.screen.log_view.views:
            msg_id = view.msg_id
            stored = self.store.stored_id(msg_id) if msg_id is not None else None
            view.set_branch(places.get(stored) if stored is not None else None)

    async def step(self, msg_id: int, step: int) -> None:
        """Show the previous (``step`` -1) or next (1) version of ``msg_id``."""
        conv = self.screen.state.conversation
        if conv is None:
            return
        stored = self.store.stored_id(msg_id)
        versions = [m.id for m in self.store.tree(conv.id).siblings(stored)]
        if len(versions) < 2:
            return
        at = versions.index(stored) + step
        if not 0 <= at < len(versions):
            self.screen.notify(
                f"this is the {'first' if at < 0 else 'last'} of {len(versions)} versions"
            )
            return
        await self.show(versions[at])

    async def show(self, msg_id: int) -> None:
        """Make the path run through ``msg_id`` (down its newest replies) and show it, with
        the focus on that message."""
        conv = self.screen.state.conversation
        assert conv is not None
        self.store.switch_to(conv.id, msg_id)
        self.screen.note_saving()
        await self.sync(focus=self.store.stored_id(msg_id))

    async def sync(self, *, focus: int | None = None) -> None:
        """Show the stored active path: the messages from the first that differs from
        what is shown are drawn again."""
        screen = self.screen
        state = screen.state
        conv = state.conversation
        if conv is None:
            return
        path = self.store.messages(conv.id)
        shown = [self.store.stored_id(m.id) for m in state.messages]
        same = 0
        while same < min(len(path), len(shown)) and path[same].id == shown[same]:
            same += 1
        log = screen.log_view
        views = log.views
        if len(views) == len(state.messages):
            await log.remove_children(views[same:])
        else:  # out of step (a reply that failed): draw it all
            await log.remove_children()
            same = 0
        state.messages = path
        completion = state.mode == "completion"
        fresh = [MessageView.of(m, completion=completion) for m in path[same:]]
        if fresh:
            await log.mount_all(fresh)
        self.mark()
        last = next((m.stats for m in reversed(path) if m.stats), None) or {}
        screen.status.set(
            ctx_used=last.get("prompt_tokens", 0) + last.get("completion_tokens", 0),
            tokens_per_s=last.get("gen_tokens_per_s"),
        )
        target = next((v for v in log.views if v.msg_id == focus), None)
        if target is not None:
            target.focus()
            log.scroll_to_widget(target, animate=False)
        else:
            log.anchor()
