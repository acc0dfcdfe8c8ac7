"""The chat screen: sidebar, messages, input, status bar; sending, editing, settings.

Replies are streamed by its :class:`.streaming.ReplyStreamer`, the stored chats handled by
its :class:`.conversations.ChatList`; both hold the screen and use its public parts.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from baichuan_tui.store.conversations import StoredMessage, now, title_from
from baichuan_tui.ui.screens.branches import Branches
from baichuan_tui.ui.screens.conversations import ChatList
from baichuan_tui.ui.screens.streaming import ReplyChunk, ReplyDone, ReplyStreamer
from baichuan_tui.ui.session import ChatState, engine_mode, model_label
from baichuan_tui.ui.widgets.messages import ChatLog, MessageView
from baichuan_tui.ui.widgets.prompt_input import PromptInput
from baichuan_tui.ui.widgets.sidebar import Sidebar
from baichuan_tui.ui.widgets.status import StatusBar

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.lora import Lora
    from baichuan_tui.engine.prompts import Message as PromptMessage
    from baichuan_tui.store.conversations import Store
    from baichuan_tui.ui.app import ChatApp
    from baichuan_tui.ui.screens.compare import CompareChoice
    from baichuan_tui.ui.screens.settings import SettingsResult


def _with_attachment(draft: str, fenced: str) -> str:
    """The message being written with a fenced file after it (and a line to go on)."""
    draft = draft.rstrip()
    return (f"{draft}\n\n" if draft else "") + fenced + "\n\n"


SAVE_RETRY_S = 5.0
"""Seconds between tries to store what the history refused (a full disk)."""


SIDEBAR_MIN_WIDTH = 100
"""Terminal columns below which the chat list is hidden at first (the chat gets the width)."""


class ChatScreen(Screen[None]):
    """One open chat at a time; the sidebar switches between stored ones."""

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding(
            "ctrl+z",
            "undo_regenerate",
            "Back to the previous reply",
            id="undo_regenerate",
            show=False,
            priority=True,  # only after a regenerate, with the input empty
        ),
        Binding("ctrl+g", "continue_reply", "Continue", id="continue", show=False),
        Binding("ctrl+up", "edit_last", "Edit last", id="edit_last", show=False),
        Binding("ctrl+n", "new_chat", "New chat", id="new_chat"),
        Binding("ctrl+f", "search", "Search", id="search", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="toggle_sidebar", show=False),
        Binding("f2", "rename", "Rename", id="rename", show=False),
        Binding("ctrl+s", "settings", "Settings", id="settings"),
        Binding("ctrl+o", "models", "Models", id="models"),
        Binding("f3", "model_menu", "Model menu", id="model_menu", show=False),
        Binding("ctrl+l", "adapters", "LoRA adapters", id="adapters", show=False),
        # priority: the input (a TextArea) would take Ctrl+K as "delete to the line's end"
        Binding("ctrl+k", "compare", "Compare", id="compare", show=False, priority=True),
        # priority: the input takes Ctrl+A as "line start" (Home does that too)
        Binding("ctrl+a", "attach", "Attach file", id="attach", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = ChatState()
        self.editing: StoredMessage | None = None
        self.attached_note: str | None = None
        """What the hint says of the files attached to the message being written."""
        self.replaced: StoredMessage | None = None
        """The reply the last regenerate stepped away from (kept as another version: Ctrl+Z
        shows it again)."""
        self._unsaved_shown: str | None = None
        self.status = StatusBar(id="status")
        self._narrow = False  # the screen is below SIDEBAR_MIN_WIDTH columns
        self.replies = ReplyStreamer(self)
        self.chats = ChatList(self)
        self.branches = Branches(self)

    @property
    def chat_app(self) -> ChatApp:
        return cast("ChatApp", self.app)

    @property
    def store(self) -> Store:
        return self.chat_app.store

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="chat"):
                yield ChatLog(id="log")
                yield Label("", id="hint")
                yield PromptInput(id="input")
        yield self.status
        yield Footer()

    @property
    def log_view(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def input(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    async def on_mount(self) -> None:
        self.new_chat_state()
        await self.chats.refresh_sidebar()
        self.update_placeholder()
        self.input.focus()
        self.set_interval(SAVE_RETRY_S, self._retry_saving)
        if self.store.readonly:
            self.status.set(history="history read-only")
            self.notify(
                f"the history {self.store.path} is read-only: chats are shown, nothing new is "
                "saved (rename and delete are off)",
                severity="warning",
                timeout=15,
            )

    # -- saving -----------------------------------------------------------------------------
    def note_saving(self) -> None:
        """Say once when the history stops taking writes, and when it takes them again."""
        unsaved = None if self.store.readonly else self.store.unsaved
        if unsaved == self._unsaved_shown:
            return
        if unsaved and not self._unsaved_shown:
            self.notify(
                f"{unsaved} — what you see stays here and is saved once the disk takes it",
                severity="error",
                timeout=15,
            )
        elif not unsaved:
            self.notify("history saved again")
        self._unsaved_shown = unsaved
        self.status.set(history="not saved" if unsaved else None)

    def _retry_saving(self) -> None:
        if self.store.has_unsaved and not self.store.readonly:
            self.run_worker(self._save_pending, thread=True, group="save", exclusive=True)

    def _save_pending(self) -> None:
        self.store.save_pending()
        self.app.call_from_thread(self.note_saving)

    def _refuse_readonly(self, what: str) -> bool:
        if self.store.readonly:
            self.notify(f"the history is read-only: {what} is off", severity="warning")
        return self.store.readonly

    def _hint(self, text: str) -> None:
        hint = self.query_one("#hint", Label)
        hint.update(text)
        hint.display = bool(text)

    def update_placeholder(self) -> None:
        """The input's placeholder for the open chat's mode."""
        self.input.placeholder = (
            "Text for the model to continue — Enter generates (empty: continue)"
            if self.state.mode == "completion"
            else "Message — Enter sends, Shift+Enter/Ctrl+J new line, Ctrl+E editor"
        )

    # -- model ------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine | None:
        return self.chat_app.engine

    def new_chat_state(self) -> None:
        opts = self.chat_app.options
        engine = self.engine
        sampling = engine.family.defaults.merged(**opts.sampling) if engine else None
        self.state = ChatState(
            sampling=sampling, system=opts.system, stop=opts.stop, mode=engine_mode(engine)
        )

    def model_ready(self, spec: str) -> None:
        """A model was loaded (or its template changed): fill the new chat's settings, note
        the model on this chat.

        A chat holds one mode: a model of the other one (a base model's completion after a
        chat model, or the reverse) starts a new chat and leaves the open one in the sidebar.
        """
        engine = self.engine
        assert engine is not None
        conv = self.state.conversation
        if conv is None or conv.model != spec:  # a switch: the last reply's facts are stale
            self.status.set(tokens_per_s=None, ctx_used=0)
        if self.state.messages and engine_mode(engine) != self.state.mode:
            self.new_chat_state()  # at once: nothing is sent to the old chat meanwhile
            self.run_worker(self._new_chat_for_mode(), group="mode", exclusive=True)
            return
        if conv is None and not self.state.messages:
            self.new_chat_state()
        elif self.state.sampling is None:
            self.state.sampling = engine.family.defaults.merged(**self.chat_app.options.sampling)
        if conv is not None and conv.model != spec:
            conv.model = spec
            self.store.update(conv.id, model=spec, template=engine.template)
        self.update_placeholder()
        self.refresh_status()

    async def _new_chat_for_mode(self) -> None:
        await self.chats.new_chat()
        self.refresh_status()
        engine = self.engine
        name = model_label(engine) if engine else "the model"
        what = "continues text" if self.state.mode == "completion" else "is a chat model"
        self.notify(
            f"{name} {what}: started a new chat (the previous one is in the sidebar)",
            timeout=8,
        )

    def show_busy(self, what: str | None) -> None:
        """Show what the app is busy with in the status bar (None: nothing)."""
        self.status.set(busy=what)

    def refresh_status(self, **extra: Any) -> None:
        """The status bar's model facts, with ``extra`` status-bar values."""
        engine = self.engine
        if engine is None:
            self.status.set(
                model="no model — Ctrl+O opens the model manager",
                template="",
                ctx_total=0,
                gpu_layers=None,
                **extra,
            )
            return
        self.status.set(
            model=model_label(engine),
            template=engine.template,
            ctx_total=engine.n_ctx,
            gpu_layers=engine.n_gpu_layers,
            **extra,
        )

    # -- replies ----------------------------------------------------------------------------
    def cancel_reply(self, *, wait: float = 0.0) -> None:
        """Stop the reply being generated (it is kept, as stopped); ``wait`` seconds at most
        for its worker to end."""
        self.replies.cancel()
        if wait:
            self.replies.idle.wait(timeout=wait)

    @property
    def replying(self) -> bool:
        """Whether a reply is being generated now."""
        return not self.replies.idle.is_set()

    async def refresh_sidebar(self) -> None:
        """List the chats again (after another screen added one)."""
        await self.chats.refresh_sidebar()

    async def on_reply_chunk(self, message: ReplyChunk) -> None:
        await self.replies.show_chunk(message)

    async def on_reply_done(self, message: ReplyDone) -> None:
        await self.replies.finish(message)

    # -- chats ------------------------------------------------------------------------------
    async def on_sidebar_action(self, event: Sidebar.Action) -> None:
        if event.action in ("delete", "undo", "rename") and self._refuse_readonly(event.action):
            return
        await self.chats.on_action(event)

    async def on_sidebar_search_changed(self, event: Sidebar.SearchChanged) -> None:
        await self.chats.refresh_sidebar()

    async def action_new_chat(self) -> None:
        await self.chats.new_chat()

    async def action_undo_delete(self) -> None:
        if not self._refuse_readonly("undo"):
            await self.chats.undo_delete()

    def action_delete_current(self) -> None:
        if self.state.conversation and not self._refuse_readonly("delete"):
            self.run_worker(self.chats.delete_conversation(self.state.conversation.id))

    def action_rename(self) -> None:
        if self._refuse_readonly("rename"):
            return
        if self.state.conversation is None:
            self.notify("send a message first: new chats are named after it")
            return
        self.chats.rename_conversation(self.state.conversation.id)

    def action_search(self) -> None:
        sidebar = self.sidebar
        sidebar.display = True
        sidebar.search.focus()

    def action_toggle_sidebar(self) -> None:
        self.sidebar.display = not self.sidebar.display

    def on_resize(self, event: events.Resize) -> None:
        """Below ``SIDEBAR_MIN_WIDTH`` columns the sidebar starts hidden (Ctrl+B, Ctrl+F show
        it); crossing back shows it again."""
        narrow = event.size.width < SIDEBAR_MIN_WIDTH
        if narrow != self._narrow:
            self._narrow = narrow
            self.sidebar.display = not narrow

    # -- sending ----------------------------------------------------------------------------
    def _busy(self) -> bool:
        if self.replies.generation is not None or not self.replies.idle.is_set():
            self.notify("a reply is streaming: Esc stops it", severity="warning")
            return True
        if self.engine is None:
            what = (
                f"{self.chat_app.loading} is still loading"
                if self.chat_app.loading
                else "no model is loaded: Ctrl+O opens the model manager"
            )
            self.notify(what, severity="warning")
            return True
        return False

    async def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        path = self.input.file_command()
        if path is not None:  # "/file PATH": attach it, send nothing
            self.input.clear()
            self.attach(path)
            return
        completion = self.state.mode == "completion"
        if (not text.strip() and not completion) or self._busy():
            return
        editing = self.editing
        if editing is not None and not text.strip():
            self.notify("an edited message cannot be empty (Esc cancels the edit)")
            return
        if editing is not None and editing.role == "assistant":
            await self._save_edited_reply(editing, text)
            return
        if editing is not None:  # a new version of it: from its parent, the old one kept
            await self._show_before(editing.id)
            self.stop_editing()
        self.chats.ensure_conversation()
        conv = self.state.conversation
        assert conv is not None
        if text.strip():
            parent = self.state.messages[-1].id if self.state.messages else None
            msg_id = self.store.add_message(conv.id, "user", text, parent_id=parent)
            self.state.messages.append(
                StoredMessage(msg_id, conv.id, "user", text, now(), None, parent_id=parent)
            )
            await self.log_view.mount(
                MessageView("user", text, msg_id=msg_id, completion=completion)
            )
        elif not self.state.messages:
            return
        self.input.clear()
        self.replaced = None
        if self.attached_note is not None:
            self.attached_note = None
            self._hint("")
        if not conv.title and text.strip():
            conv.title = title_from(text)  # as the store names it
        await self.replies.start()
        self.branches.mark()
        self.note_saving()
        await self.chats.refresh_sidebar()

    async def _show_before(self, msg_id: int) -> None:
        """Take message ``msg_id`` and the ones after it off the screen (and the open chat's
        state); the store keeps them, as another branch."""
        ids = [m.id for m in self.state.messages]
        if msg_id not in ids:
            return
        at = ids.index(msg_id)
        del self.state.messages[at:]
        await self.log_view.remove_children(self.log_view.views[at:])

    async def _save_edited_reply(self, old: StoredMessage, text: str) -> None:
        """Keep an edited reply as a new version of ``old`` (which stays, one key away)."""
        conv = self.state.conversation
        self.stop_editing()
        if conv is None:
            return
        self.store.add_message(
            conv.id,
            "assistant",
            text,
            finish_reason=old.finish_reason or "stop",
            model=old.model,
            parent_id=old.parent_id,
        )
        self.input.clear()
        await self.branches.sync()
        self.note_saving()
        self.notify("reply edited — the original is kept: ←/→ on it switches")

    def action_stop(self) -> None:
        if self.replies.streaming:
            self.cancel_reply()
        elif self.editing is not None:
            self.stop_editing()
            self.input.clear()
        else:
            self.input.focus()

    async def action_regenerate(self) -> None:
        msgs = self.state.messages
        if not msgs or msgs[-1].role != "assistant":
            self.notify("there is no reply to regenerate")
            return
        if self._busy():
            return
        old = msgs[-1]
        await self._show_before(old.id)
        await self.replies.start()
        self.branches.mark()
        self.replaced = old
        self.notify(
            "regenerating — the previous reply is kept: Ctrl+Z (or ←/→ on the reply) shows it",
            timeout=8,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "attach":  # the chat list's search box keeps Ctrl+A
            focused = self.focused
            return focused is None or self.sidebar not in focused.ancestors_with_self
        if action == "undo_regenerate":  # else Ctrl+Z is the input's (or the chat list's) undo
            focused = self.focused
            in_sidebar = focused is not None and self.sidebar in focused.ancestors_with_self
            return self._held_reply() is not None and not self.input.text and not in_sidebar
        return True

    def _held_reply(self) -> StoredMessage | None:
        """The reply the last regenerate replaced, if it belongs to the open chat."""
        old, conv = self.replaced, self.state.conversation
        return (
            old if old is not None and conv is not None and old.conversation_id == conv.id else None
        )

    async def action_undo_regenerate(self) -> None:
        """Show the reply the last regenerate stepped away from (a reply still streaming is
        stopped and kept); again: back to the other one. Both stay versions of the reply."""
        old, conv = self._held_reply(), self.state.conversation
        msgs = self.state.messages
        if old is None or conv is None or not msgs or msgs[-1].role != "assistant":
            self.notify("nothing to undo")
            return
        self.cancel_reply(wait=5)
        now_shown = self.store.stored_id(msgs[-1].id)
        await self.branches.show(old.id)
        self.replaced = self.store.tree(conv.id).get(now_shown)
        self.log_view.anchor()
        self.input.focus()
        self.notify("previous reply back — Ctrl+Z again shows the other one")

    async def on_message_view_branch_requested(self, event: MessageView.BranchRequested) -> None:
        """←/→ on a message with other versions: show the previous or next one."""
        if self.replies.streaming:
            self.notify("stop the reply first (Esc)", severity="warning")
            return
        if event.view.msg_id is not None:
            self.stop_editing()
            await self.branches.step(event.view.msg_id, event.step)

    async def action_continue_reply(self) -> None:
        msgs = self.state.messages
        if not msgs or msgs[-1].role != "assistant" or msgs[-1].finish_reason == "stop":
            self.notify("only a reply cut by max_tokens or stopped can be continued")
            return
        if self._busy():
            return
        await self.replies.start(continue_last=True)

    def action_copy_last_block(self) -> None:
        """Copy the last code block of the latest reply that has one (the palette's entry;
        on a focused reply Tab picks a block and ``c`` copies it)."""
        for view in reversed(self.log_view.views):
            blocks = view.code_blocks() if view.role == "assistant" else []
            if blocks:
                self.app.copy_to_clipboard(blocks[-1])
                self.notify("last code block copied to the clipboard")
                return
        self.notify("no reply in this chat has a code block")

    def on_prompt_input_scroll_requested(self, event: PromptInput.ScrollRequested) -> None:
        log = self.log_view
        {
            "page_up": log.scroll_page_up,
            "page_down": log.scroll_page_down,
            "home": log.scroll_home,
            "end": log.scroll_end,
        }[event.where]()

    def on_message_view_edit_requested(self, event: MessageView.EditRequested) -> None:
        """``e`` on a message: edit it (a question, a reply), into a new version of it."""
        self._edit(event.view.msg_id)

    def action_edit_last(self) -> None:
        users = [m for m in self.state.messages if m.role == "user"]
        if not users:
            self.notify("no message to edit")
            return
        self._edit(users[-1].id)

    def _edit(self, msg_id: int | None) -> None:
        if self.replies.streaming:
            self.notify("stop the reply first (Esc)", severity="warning")
            return
        msg = next((m for m in self.state.messages if m.id == msg_id), None)
        if msg is None:
            return
        self.editing = msg
        self.input.load_text(msg.content)
        self.input.focus()
        self._hint(
            "Editing a reply: Enter keeps your text as a new version of it (the original "
            "stays: ←/→ on it), Esc cancels"
            if msg.role == "assistant"
            else "Editing a message: Enter sends it as a new version and answers it again "
            "(the original and its replies stay: ←/→ on it), Esc cancels"
        )

    def stop_editing(self) -> None:
        """Leave the editing of an earlier message (the input keeps its text)."""
        self.editing = None
        self._hint("")

    # -- attaching a text file -------------------------------------------------------------
    def action_attach(self) -> None:
        """Ask for a text file to attach (Tab completes the path)."""
        from baichuan_tui.ui.screens.dialogs import TextPrompt

        def chosen(answer: str | None) -> None:
            if answer and answer.strip():
                self.attach(answer.strip())

        self.app.push_screen(
            TextPrompt("Attach a text file (Tab completes the path)", "", "path", path=True),
            chosen,
        )

    def attach(self, path: str) -> None:
        """Put text file ``path`` into the message being written, fenced and named, once its
        tokens are counted and the message with it fits the context (else a refusal saying
        how many tokens over); a binary or undecodable file is refused in one line."""
        engine = self.engine
        if engine is None:
            self.notify(
                "load a model first: the file's tokens are counted with its tokenizer",
                severity="warning",
            )
            return
        self.show_busy(f"reading {Path(path).name}")
        self.run_worker(
            partial(self._measure_attachment, engine, path, self.input.text),
            name="attach",
            group="attach",
            thread=True,
            exit_on_error=False,
        )

    def _attach_context(self) -> list[PromptMessage]:
        """The turns the new message follows (an edited question: those before it)."""
        editing = self.editing
        ids = [m.id for m in self.state.messages]
        if editing is not None and editing.role == "user" and editing.id in ids:
            return self.state.prompt_messages(upto=ids.index(editing.id))
        return self.state.prompt_messages()

    def _measure_attachment(self, engine: Engine, path: str, draft: str) -> None:
        """In a thread: read, count, fit; the answer goes back to the screen."""
        from baichuan_tui.engine.prompts import Message, PromptTooLong
        from baichuan_tui.errors import error_line
        from baichuan_tui.textfiles import read_attachment

        app = self.app
        try:
            att = read_attachment(Path(path))
            tokens = len(engine.encode(att.fenced))
            text = _with_attachment(draft, att.fenced)
            sampling = self.state.sampling or engine.family.defaults
            messages = [*self._attach_context(), Message("user", text)]
            try:
                prompt = engine.prompt(messages, max_tokens=sampling.max_tokens)
            except PromptTooLong as exc:
                app.call_from_thread(
                    self._attach_refused,
                    f"{att.name} does not fit: it is {tokens:,} tokens, and the message "
                    f"with it is {exc.over:,} tokens over the {exc.n_ctx:,}-token context "
                    "(a larger n_ctx in Ctrl+S, or a shorter file)",
                )
                return
        except Exception as exc:  # noqa: BLE001 - one line on screen, never a crash
            app.call_from_thread(self._attach_refused, error_line(exc))
            return
        note = (
            f"📎 {att.name}: {tokens:,} tokens — the prompt would be "
            f"{len(prompt.token_ids):,} of {engine.n_ctx:,}, "
            f"{prompt.max_tokens:,} left for the reply"
        )
        if prompt.dropped_rounds:
            note += f"; the {prompt.dropped_rounds} oldest round(s) would be left out"
        app.call_from_thread(self._attached, att.fenced, note)

    def _attach_refused(self, line: str) -> None:
        self.show_busy(None)
        self.notify(line, severity="error", title="not attached", timeout=12)

    def _attached(self, fenced: str, note: str) -> None:
        self.show_busy(None)
        box = self.input
        box.load_text(_with_attachment(box.text, fenced))
        box.move_cursor(box.document.end)
        box.focus()
        self.attached_note = note if self.attached_note is None else f"{self.attached_note}\n{note}"
        self._hint(self.attached_note)

    # -- settings, models, export -----------------------------------------------------------
    def action_settings(self) -> None:
        from baichuan_tui.engine.sampling import BAICHUAN2
        from baichuan_tui.ui.screens.settings import LoadValues, SettingsScreen, TemplateChoice

        app = self.chat_app
        engine = self.engine
        defaults = engine.family.defaults if engine else self.state.sampling or BAICHUAN2
        opts = app.options
        load = LoadValues(opts.n_ctx, opts.gpu_layers, opts.threads)

        def apply(result: SettingsResult | None) -> None:
            if result is None:
                return
            self.state.sampling = result.sampling
            self.state.system = result.system
            conv = self.state.conversation
            if conv is not None:
                self.store.update(
                    conv.id, system=result.system, settings=self.state.settings_dict()
                )
                if result.template:
                    self.store.update(conv.id, template=result.template)
            if result.template:
                app.set_template(result.template)
            elif result.load != load:
                app.set_load_options(result.load)
            else:
                self.notify("settings saved for this chat")

        template = TemplateChoice(engine.template, engine.family.template) if engine else None
        self.app.push_screen(
            SettingsScreen(
                self.state.sampling or defaults,
                defaults,
                self.state.system,
                load,
                template=template,
                prompts=app.settings.prompts,
            ),
            apply,
        )

    def action_models(self) -> None:
        from baichuan_tui.ui.screens.models import ModelManagerScreen

        def chosen(adapter: str | None) -> None:
            if adapter:  # a LoRA adapter picked in the library: onto the loaded model
                self.action_adapters(add=adapter)

        self.app.push_screen(ModelManagerScreen(), chosen)

    def action_model_menu(self) -> None:
        """The status bar's model menu: the models on this machine, recent first."""
        from baichuan_tui.ui.screens.model_menu import LIBRARY, ModelMenu

        app = self.chat_app

        def chosen(spec: str | None) -> None:
            if spec == LIBRARY:
                self.action_models()
            elif spec in (None, app.model_spec, app.loading):
                return
            elif not app.runs_elsewhere(spec):
                app.load_model(spec)

        self.app.push_screen(ModelMenu(), chosen)

    def on_status_bar_model_clicked(self, event: StatusBar.ModelClicked) -> None:
        event.stop()
        self.action_model_menu()

    def action_adapters(self, add: str = "") -> None:
        """Apply, re-scale or remove LoRA adapters on the loaded model (no reload); ``add``: a
        file for the dialog's new line (an adapter chosen in the model library)."""
        from baichuan_tui.ui.screens.adapters import AdaptersScreen

        if self._busy():
            return
        engine = self.engine
        assert engine is not None  # _busy says so otherwise

        def chosen(loras: list[Lora] | None) -> None:
            if loras is not None and tuple(loras) != engine.loras:
                self.show_busy("applying adapters")
                self.run_worker(
                    partial(self._set_adapters, engine, loras),
                    name="adapters",
                    group="adapters",
                    thread=True,
                    exclusive=True,
                    exit_on_error=False,
                )

        self.app.push_screen(AdaptersScreen(model_label(engine), engine.loras, add), chosen)

    def _set_adapters(self, engine: Engine, loras: list[Lora]) -> None:
        """In a thread: the engine swaps adapters; the screen hears how it went."""
        from baichuan_tui.errors import error_line

        try:
            engine.set_loras(loras)
        except Exception as exc:  # noqa: BLE001 - one line on screen, never a crash
            self.app.call_from_thread(self._adapters_set, error_line(exc))
        else:
            self.app.call_from_thread(self._adapters_set, None)

    def _adapters_set(self, error: str | None) -> None:
        self.show_busy(None)
        self.refresh_status()
        engine = self.engine
        if error is not None:
            self.notify(error, severity="error", timeout=10)
        elif engine is not None:
            names = ", ".join(lora.label for lora in engine.loras) or "none"
            self.notify(f"adapters now: {names} (the next reply uses them)")

    def action_compare(self) -> None:
        """The compare screen, with what the input holds as the prompt."""
        from baichuan_tui.ui.screens.compare import CompareScreen

        if self._busy():
            return
        self.app.push_screen(CompareScreen(prompt=self.input.text.strip()), self._compared)

    def _compared(self, choice: CompareChoice | None) -> None:
        if choice is not None:
            self.run_worker(self.continue_with(choice), group="compare-continue")

    async def continue_with(self, choice: CompareChoice) -> None:
        """Put the compared prompt and the chosen reply into the chat, then switch to the
        model that wrote it."""
        self.chats.ensure_conversation()
        conv = self.state.conversation
        assert conv is not None
        completion = self.state.mode == "completion"
        parent = self.state.messages[-1].id if self.state.messages else None
        user_id = self.store.add_message(conv.id, "user", choice.prompt, parent_id=parent)
        reply_id = self.store.add_message(
            conv.id,
            "assistant",
            choice.reply,
            finish_reason="stop",
            model=choice.spec,
            parent_id=user_id,
        )
        self.state.messages += [
            StoredMessage(user_id, conv.id, "user", choice.prompt, now(), None, parent_id=parent),
            StoredMessage(
                reply_id,
                conv.id,
                "assistant",
                choice.reply,
                now(),
                "stop",
                model=choice.spec,
                parent_id=user_id,
            ),
        ]
        if not conv.title:
            conv.title = title_from(choice.prompt)
        await self.log_view.mount(
            MessageView("user", choice.prompt, msg_id=user_id, completion=completion)
        )
        await self.log_view.mount(
            MessageView("assistant", choice.reply, msg_id=reply_id, completion=completion)
        )
        self.log_view.anchor()
        self.input.clear()
        self.note_saving()
        await self.chats.refresh_sidebar()
        if choice.spec.startswith(("server=", "http://", "https://")):
            self.notify("continue on that server with baichuan-chat --server", timeout=8)
        elif choice.spec != self.chat_app.model_spec:
            self.chat_app.load_model(choice.spec)

    def export(self, fmt: str) -> None:
        """Ask where (default: ``chat-ID.FMT`` in the current directory), then write the open
        chat there; an existing file is replaced only after a second Enter."""
        conv = self.state.conversation
        if conv is None:
            self.notify("nothing to export yet")
            return
        default = Path.cwd() / f"chat-{conv.id}.{fmt}"
        self._ask_export(conv.id, fmt, str(default), f"Export chat as {fmt.upper()} to")

    def _ask_export(
        self, conv_id: int, fmt: str, value: str, title: str, *, force: bool = False
    ) -> None:
        from baichuan_tui.ui.screens.dialogs import TextPrompt

        def chosen(answer: str | None) -> None:
            if answer and answer.strip():
                self._write_export(conv_id, fmt, Path(answer.strip()), force=force)

        self.app.push_screen(TextPrompt(title, value), chosen)

    def _write_export(self, conv_id: int, fmt: str, out: Path, *, force: bool) -> None:
        from baichuan_tui import locations
        from baichuan_tui.errors import error_line
        from baichuan_tui.store.export import check_export_target, render, write_export

        out = out.expanduser()
        try:
            check_export_target(out, locations.database_file(), force=True, flag="")
            if out.exists() and not force:
                title = f"{out.name} exists: Enter replaces it, Esc cancels"
                self._ask_export(conv_id, fmt, str(out), title, force=True)
                return
            text = render(self.store.document(conv_id), fmt)
            write_export(text, out, locations.database_file(), force=force, flag="")
        except Exception as exc:  # noqa: BLE001 - one line in a notification, never a crash
            self.notify(error_line(exc), severity="error", title="not exported", timeout=10)
        else:
            self.notify(f"exported to {out}")
