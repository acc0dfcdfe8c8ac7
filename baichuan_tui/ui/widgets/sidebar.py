"""The conversation list (newest first) with a search box."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, ListItem, ListView

from baichuan_tui.store.conversations import Conversation


class ConversationItem(ListItem):
    """A chat's title and when it was last written (a search hit: the text that matched)."""

    def __init__(self, conv: Conversation, snippet: str | None = None) -> None:
        super().__init__(
            Label(conv.title or "(untitled)", classes="title"),
            Label(snippet, classes="snippet", markup=False)
            if snippet
            else Label(conv.updated_at[:16].replace("T", " "), classes="when"),
        )
        self.conv_id = conv.id
        self.conv_title = conv.title


class ConversationList(ListView):
    BINDINGS = [
        Binding("delete,d", "delete", "Delete chat", id="delete_chat"),
        Binding("ctrl+z,u", "undo", "Undo delete", id="undo_delete"),
        Binding("f2,r", "rename", "Rename", id="rename_chat_list", show=False),
    ]

    def _chosen(self) -> ConversationItem | None:
        item = self.highlighted_child
        return item if isinstance(item, ConversationItem) else None

    def action_delete(self) -> None:
        if item := self._chosen():
            self.post_message(Sidebar.Action("delete", item.conv_id))

    def action_undo(self) -> None:
        self.post_message(Sidebar.Action("undo", None))

    def action_rename(self) -> None:
        if item := self._chosen():
            self.post_message(Sidebar.Action("rename", item.conv_id))


class Sidebar(Vertical):
    """Search box + conversation list; tells the screen what the user picked."""

    class Action(Message):
        """``open``, ``delete``, ``rename`` (with an id) or ``undo``."""

        def __init__(self, action: str, conv_id: int | None) -> None:
            super().__init__()
            self.action = action
            self.conv_id = conv_id

    class SearchChanged(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search chats (Ctrl+F)", id="search", compact=True)
        yield ConversationList(id="conversations")

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def list(self) -> ConversationList:
        return self.query_one(ConversationList)

    async def show(
        self,
        conversations: Sequence[Conversation],
        current: int | None,
        snippets: Sequence[str] | None = None,
    ) -> None:
        """Replace the items, keeping the open chat highlighted (search hits: with the text
        that matched)."""
        lv = self.list
        await lv.clear()
        items = [
            ConversationItem(c, snippets[i] if snippets else None)
            for i, c in enumerate(conversations)
        ]
        if not items:
            return
        await lv.extend(items)
        ids = [c.id for c in conversations]
        lv.index = ids.index(current) if current in ids else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search box opens the first hit."""
        event.stop()
        self.list.focus()
        first = next(iter(self.list.query_children(ConversationItem)), None)
        if event.value.strip() and first is not None:
            self.list.index = 0
            self.post_message(self.Action("open", first.conv_id))

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ConversationItem):
            self.post_message(self.Action("open", event.item.conv_id))
