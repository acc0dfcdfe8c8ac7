"""Opening, creating, deleting (with undo), renaming and searching chats (a ChatScreen mixin)."""

from __future__ import annotations

from baichuan_tui.ui.screens.dialogs import TextPrompt
from baichuan_tui.ui.session import ChatState
from baichuan_tui.ui.widgets.messages import MessageView
from baichuan_tui.ui.widgets.sidebar import Sidebar

SIDEBAR_LIMIT = 300
"""Most conversations listed in the sidebar (search finds the older ones)."""


class Conversations:
    """The sidebar's side of the chat screen (mixed into :class:`ChatScreen`)."""

    async def refresh_sidebar(self) -> None:
        text = self.sidebar.search.value.strip()
        convs = (
            [h.conversation for h in self.store.search(text, limit=SIDEBAR_LIMIT)]
            if text
            else self.store.list(limit=SIDEBAR_LIMIT)
        )
        current = self.state.conversation.id if self.state.conversation else None
        await self.sidebar.show(convs, current)

    def _ensure_conversation(self) -> None:
        if self.state.conversation is not None:
            return
        engine = self.engine
        self.state.conversation = self.store.create(
            model=self.chat_app.model_spec or "",
            system=self.state.system,
            settings=self.state.settings_dict(),
            template=engine.template if engine else None,
        )

    async def _show_messages(self) -> None:
        log = self.log_view
        await log.remove_children()
        completion = self.state.mode == "completion"
        views = [
            MessageView(
                m.role,
                m.content,
                msg_id=m.id,
                completion=completion,
                finish_reason=m.finish_reason or ("incomplete" if m.role == "assistant" else None),
            )
            for m in self.state.messages
        ]
        if views:
            await log.mount_all(views)
        log.anchor()

    async def open_conversation(self, conv_id: int) -> None:
        self._cancel_generation()
        conv = self.store.get(conv_id)
        if conv is None:
            self.notify(f"conversation {conv_id} is gone", severity="warning")
            return
        self.state = ChatState.from_conversation(conv, self.store.messages(conv_id))
        self._stop_editing()
        await self._show_messages()
        last = next((m.stats for m in reversed(self.state.messages) if m.stats), None) or {}
        self.status.set(
            ctx_used=last.get("prompt_tokens", 0) + last.get("completion_tokens", 0),
            tokens_per_s=last.get("gen_tokens_per_s"),
        )
        self._update_placeholder()
        self.input.focus()
        app = self.chat_app
        if conv.model and conv.model != app.model_spec and conv.model != app.loading:
            app.load_model(conv.model)
        elif self.state.sampling is None and self.engine:
            self.state.sampling = self.engine.family.defaults

    async def action_new_chat(self) -> None:
        self._cancel_generation()
        self.new_chat_state()
        self._stop_editing()
        await self._show_messages()
        self._update_placeholder()
        await self.refresh_sidebar()
        self.input.focus()

    async def on_sidebar_action(self, event: Sidebar.Action) -> None:
        if event.action == "open" and event.conv_id is not None:
            await self.open_conversation(event.conv_id)
        elif event.action == "delete" and event.conv_id is not None:
            await self.delete_conversation(event.conv_id)
        elif event.action == "undo":
            await self.action_undo_delete()
        elif event.action == "rename" and event.conv_id is not None:
            self.rename_conversation(event.conv_id)

    async def on_sidebar_search_changed(self, event: Sidebar.SearchChanged) -> None:
        await self.refresh_sidebar()

    async def delete_conversation(self, conv_id: int) -> None:
        conv = self.store.get(conv_id)
        if conv is None:
            return
        self.store.trash(conv_id)
        self.deleted.append(conv_id)
        in_list = self.focused is self.sidebar.list
        if self.state.conversation and self.state.conversation.id == conv_id:
            await self.action_new_chat()
        await self.refresh_sidebar()
        if in_list:
            self.sidebar.list.focus()
        self.notify(
            f"deleted “{conv.title or 'untitled'}” — Ctrl+Z in the chat list (or "
            "“Undo delete” in Ctrl+P) brings it back",
            timeout=8,
        )

    async def action_undo_delete(self) -> None:
        if not self.deleted:
            self.notify("nothing to undo")
            return
        conv_id = self.deleted.pop()
        self.store.restore(conv_id)
        await self.refresh_sidebar()
        self.notify("chat restored")

    def action_delete_current(self) -> None:
        if self.state.conversation:
            self.run_worker(self.delete_conversation(self.state.conversation.id))

    def rename_conversation(self, conv_id: int) -> None:
        conv = self.store.get(conv_id)
        if conv is None:
            return

        async def done(title: str | None) -> None:
            if title and title.strip():
                self.store.rename(conv_id, title)
                if self.state.conversation and self.state.conversation.id == conv_id:
                    self.state.conversation.title = title.strip()
                await self.refresh_sidebar()

        self.app.push_screen(TextPrompt("Rename chat", conv.title), done)

    def action_rename(self) -> None:
        if self.state.conversation is None:
            self.notify("send a message first: new chats are named after it")
            return
        self.rename_conversation(self.state.conversation.id)

    def action_search(self) -> None:
        sidebar = self.sidebar
        sidebar.display = True
        sidebar.search.focus()

    def action_toggle_sidebar(self) -> None:
        self.sidebar.display = not self.sidebar.display
