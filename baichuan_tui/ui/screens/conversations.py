"""Opening, creating, deleting (with undo) and renaming chats: the chat screen's chat list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from baichuan_tui.ui.screens.dialogs import TextPrompt
from baichuan_tui.ui.session import ChatState
from baichuan_tui.ui.widgets.messages import MessageView
from baichuan_tui.ui.widgets.sidebar import Sidebar

if TYPE_CHECKING:
    from baichuan_tui.store.conversations import Store
    from baichuan_tui.ui.screens.chat import ChatScreen

SIDEBAR_LIMIT = 300
"""Most conversations listed in the sidebar (search finds the older ones)."""


class ChatList:
    """The sidebar's side of the chat screen: which chat is open, and the stored ones."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.deleted: list[int] = []
        """Chats deleted here, the last one last (undo brings it back)."""

    @property
    def store(self) -> Store:
        return self.screen.store

    @property
    def sidebar(self) -> Sidebar:
        return self.screen.sidebar

    async def refresh_sidebar(self) -> None:
        """List the stored chats (those matching the search box), the open one highlighted."""
        text = self.sidebar.search.value.strip()
        state = self.screen.state
        current = state.conversation.id if state.conversation else None
        if text:
            hits = self.store.search(text, limit=SIDEBAR_LIMIT)
            convs = [h.conversation for h in hits]
            snippets = [h.snippet if h.snippet != h.conversation.title else "" for h in hits]
            await self.sidebar.show(convs, current, snippets)
        else:
            await self.sidebar.show(self.store.list(limit=SIDEBAR_LIMIT), current)

    def ensure_conversation(self) -> None:
        """Store the open chat, if it is not stored yet."""
        state = self.screen.state
        if state.conversation is not None:
            return
        engine = self.screen.engine
        state.conversation = self.store.create(
            model=self.screen.chat_app.model_spec or "",
            system=state.system,
            settings=state.settings_dict(),
            template=engine.template if engine else None,
        )

    async def _show_messages(self) -> None:
        state = self.screen.state
        log = self.screen.log_view
        await log.remove_children()
        completion = state.mode == "completion"
        views = [MessageView.of(m, completion=completion) for m in state.messages]
        if views:
            await log.mount_all(views)
        self.screen.branches.mark()
        log.anchor()

    async def open_conversation(self, conv_id: int) -> None:
        """Show stored chat ``conv_id`` (loading its model when it names another one), with
        the prompt template it was last used with."""
        screen = self.screen
        screen.cancel_reply()
        conv = self.store.get(conv_id)
        if conv is None:
            screen.notify(f"conversation {conv_id} is gone", severity="warning")
            return
        screen.state = state = ChatState.from_conversation(conv, self.store.messages(conv_id))
        screen.stop_editing()
        await self._show_messages()
        last = next((m.stats for m in reversed(state.messages) if m.stats), None) or {}
        screen.status.set(
            ctx_used=last.get("prompt_tokens", 0) + last.get("completion_tokens", 0),
            tokens_per_s=last.get("gen_tokens_per_s"),
        )
        screen.update_placeholder()
        screen.input.focus()
        app = screen.chat_app
        engine = screen.engine
        if conv.model and conv.model != app.model_spec and conv.model != app.loading:
            app.load_model(conv.model, template=conv.template)
            return
        if (
            engine is not None
            and app.loading is None
            and conv.template not in (None, "", engine.template)
        ):
            app.use_template(conv.template)  # the chat's own, as when it was last used
        if state.sampling is None and engine:
            state.sampling = engine.family.defaults

    async def new_chat(self) -> None:
        """An empty chat with the launch settings (stored once the first message is sent)."""
        screen = self.screen
        screen.cancel_reply()
        screen.new_chat_state()
        screen.stop_editing()
        screen.status.set(tokens_per_s=None, ctx_used=0)  # those were the last chat's
        self.sidebar.search.value = ""  # a new chat shows every chat again
        await self._show_messages()
        screen.update_placeholder()
        await self.refresh_sidebar()
        screen.input.focus()

    async def on_action(self, event: Sidebar.Action) -> None:
        """Do what the user picked in the sidebar."""
        if event.action == "open" and event.conv_id is not None:
            await self.open_conversation(event.conv_id)
        elif event.action == "delete" and event.conv_id is not None:
            await self.delete_conversation(event.conv_id)
        elif event.action == "undo":
            await self.undo_delete()
        elif event.action == "rename" and event.conv_id is not None:
            self.rename_conversation(event.conv_id)

    async def delete_conversation(self, conv_id: int) -> None:
        """Delete a chat (undo brings it back until the app next starts)."""
        screen = self.screen
        conv = self.store.get(conv_id)
        if conv is None:
            return
        self.store.trash(conv_id)
        self.deleted.append(conv_id)
        in_list = screen.focused is self.sidebar.list
        open_conv = screen.state.conversation
        if open_conv and open_conv.id == conv_id:
            await self.new_chat()
        await self.refresh_sidebar()
        if in_list:
            self.sidebar.list.focus()
        screen.notify(
            f"deleted “{conv.title or 'untitled'}” — Ctrl+Z in the chat list (or "
            "“Undo delete” in Ctrl+P) brings it back",
            timeout=8,
        )

    async def undo_delete(self) -> None:
        """Bring back the chat deleted last."""
        if not self.deleted:
            self.screen.notify("nothing to undo")
            return
        conv_id = self.deleted.pop()
        self.store.restore(conv_id)
        await self.refresh_sidebar()
        self.screen.notify("chat restored")

    def rename_conversation(self, conv_id: int) -> None:
        """Ask for a new title for chat ``conv_id``."""
        conv = self.store.get(conv_id)
        if conv is None:
            return

        async def done(title: str | None) -> None:
            if title and title.strip():
                self.store.rename(conv_id, title)
                open_conv = self.screen.state.conversation
                if open_conv and open_conv.id == conv_id:
                    open_conv.title = title.strip()
                await self.refresh_sidebar()

        self.screen.app.push_screen(TextPrompt("Rename chat", conv.title), done)
