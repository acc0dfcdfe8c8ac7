"""The Textual app: owns the history store and the loaded engine; the chat screen does the rest.

Model loading runs in a thread worker (``EngineProcess`` validates the file, then loads it in a
child process, so generation never waits for the UI's Python), so the UI stays live; a file
that fails shows the engine's one-line error and the previous model, the open chat and the
history stay as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.theme import Theme

from baichuan_tui import locations
from baichuan_tui.errors import UserError, error_line
from baichuan_tui.loading import connect_server, start_engine_process
from baichuan_tui.settings import Settings, remember, remember_last_model
from baichuan_tui.store.conversations import Store
from baichuan_tui.ui.screens.chat import ChatScreen
from baichuan_tui.ui.screens.dialogs import UnsavedOnQuit
from baichuan_tui.ui.session import LaunchOptions

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.ui.screens.settings import LoadValues, PromptSaved


class TemplateSet(Message):
    """The loaded model builds its prompts with another template (or could not: ``error``)."""

    def __init__(self, engine: Engine, error: str | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.error = error


class ModelLoaded(Message):
    def __init__(
        self,
        spec: str,
        engine: Engine | None,
        error: str | None = None,
        notice: str | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.engine = engine
        self.error = error
        self.notice = notice
        """A warning about the file (an unnormalised Baichuan2 head) with its fix."""


HEAD_WARNING = "head not normalised: models fix"
"""The status bar's standing note for a Baichuan2 file whose head needs ``models fix``."""


def _name(spec: str) -> str:
    return Path(spec).name if spec.endswith(".gguf") else spec


class ChatApp(App[None]):
    """``baichuan-chat``: chat with a local Baichuan model."""

    CSS_PATH = "app.tcss"
    TITLE = "baichuan-chat"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("f1", "help", "Help", id="help"),
        Binding("f9", "toggle_theme", "Light/dark", id="toggle_theme", show=False),
        Binding("f4", "quiz", "Quiz", id="quiz", show=False),
    ]

    def __init__(
        self,
        options: LaunchOptions | None = None,
        *,
        settings: Settings | None = None,
        store: Store | None = None,
    ) -> None:
        super().__init__()
        self.options = options or LaunchOptions()
        self.settings = settings or Settings()
        self._own_store = store is None
        self.store = store or Store(keep_unsaved=True)
        self.store.keep_unsaved = True  # a refused write never stops the app: see note_saving
        self.engine: Engine | None = None
        self.model_spec: str | None = None
        self.loading: str | None = None
        self._theme_saved = ""  # the theme last written to the state file (or started with)
        self.chat = ChatScreen()
        if self.settings.keymap:
            from baichuan_tui.ui.keys import checked_keymap
            from baichuan_tui.ui.screens.quiz import QuizRunScreen, QuizTakeScreen

            quiz = ("quiz", [*QuizRunScreen.BINDINGS, *QuizTakeScreen.BINDINGS])
            self.settings = checked_keymap(self.settings, [*self.binding_groups(), quiz])
            self.set_keymap(self.settings.keymap)

    def get_default_screen(self) -> Screen[Any]:
        return self.chat

    def on_mount(self) -> None:
        theme = self.settings.theme
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.notify(f"unknown theme '{theme}'", severity="warning")
        self._theme_saved = self.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        for warning in self.settings.warnings:
            self.notify(warning, severity="warning", timeout=10)
        if not self.store.readonly:
            self.store.empty_trash()
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        if self.options.model:
            self.load_model(self.options.model)
        else:
            problem = self.options.model_error or "no model chosen"
            self.notify(f"{problem} — pick or download one here", severity="warning", timeout=12)
            self.chat.refresh_status()
            self.call_after_refresh(self.chat.action_models)

    def _remember_theme(self, theme: Theme) -> None:
        if theme.name != self._theme_saved:  # not the start-up theme being applied
            self._theme_saved = theme.name
            remember(theme=theme.name)

    # -- models -----------------------------------------------------------------------------
    def library_entries(
        self, cancelled: Callable[[], bool] = lambda: False
    ) -> list[dict[str, Any]]:
        """The model library with this session's settings (blocking: call from a worker)."""
        from baichuan_tui.library import library_entries

        s = self.settings
        servers = {name: e.url for name, e in s.servers.items()}
        return library_entries(
            s.library_folders, servers, n_ctx=self.options.n_ctx, cancelled=cancelled
        )

    def runs_elsewhere(self, spec: str) -> bool:
        """With ``--server`` every model runs there: a local file or a download here would not
        be what the chat uses, so say so instead (True: refused)."""
        server = self.options.server
        if not server or spec in (server, f"server={server}"):
            return False
        self.notify(
            f"this session runs models on {server}: relaunch without --server to load "
            "this one here",
            severity="warning",
            timeout=8,
        )
        return True

    def load_model(self, spec: str, template: str | None = None) -> None:
        """Load ``spec`` in the background; the current model stays until it is ready.
        ``template``: for this load (a stored chat's), instead of the session's."""
        self.loading = spec
        self.chat.show_busy(f"loading {_name(spec)}")
        self._load(spec, template)

    @work(thread=True, exclusive=True, group="load")
    def _load(self, spec: str, template: str | None) -> None:
        try:
            options = replace(self.options, template=template) if template else self.options
            request = options.load_request(spec)
            if request.server:
                engine: Engine = connect_server(request, say=self._warn_from_thread)
            else:
                engine = start_engine_process(request)
        except Exception as exc:  # noqa: BLE001 - one line in a notification, never a crash
            self.post_message(ModelLoaded(spec, None, error_line(exc)))
        else:
            from baichuan_tui.repair.notice import normhead_notice

            notice = normhead_notice(engine.path, engine.info)
            self.post_message(ModelLoaded(spec, engine, notice=notice))

    def _warn_from_thread(self, line: str) -> None:
        self.call_from_thread(self.notify, line.removeprefix("warning: "), severity="warning")

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if message.spec != self.loading:  # superseded by a later choice
            if message.engine is not None:
                self._close_engine(message.engine)
            return
        self.loading = None
        self.chat.show_busy(None)
        if message.engine is None:
            self.notify(
                message.error or "the model could not be loaded",
                severity="error",
                title="model not loaded",
                timeout=15,
            )
            self.chat.refresh_status()
            return
        old, self.engine = self.engine, message.engine
        self.model_spec = message.spec
        if old is not None:
            self.chat.cancel_reply()
            self._close_engine(old)
        if not self.options.server:  # a server's model is not a file to open next time
            remember_last_model(message.spec)
        self.chat.status.set(model_warning=HEAD_WARNING if message.notice else None)
        self.chat.model_ready(message.spec)
        if message.notice:
            self.notify(message.notice, severity="warning", title="output head", timeout=20)

    def _close_engine(self, engine: Engine) -> None:
        self.run_worker(engine.close, thread=True, group="close")

    def set_load_options(self, load: LoadValues) -> None:
        """New n_ctx / GPU layers / threads: reload the current model with them."""
        self.options = replace(
            self.options, n_ctx=load.n_ctx, gpu_layers=load.gpu_layers, threads=load.threads
        )
        if self.model_spec:
            self.load_model(self.model_spec)

    def set_template(self, template: str) -> None:
        """Another prompt template, chosen by the user: :meth:`use_template`, and a model
        loaded later uses it too."""
        self.options = replace(self.options, template=template)
        self.use_template(template)

    def use_template(self, template: str) -> None:
        """The loaded model builds its prompts with ``template`` from the next reply (no
        reload; in a worker)."""
        engine = self.engine
        if engine is not None and engine.template != template:
            self.chat.show_busy(f"template {template}")
            self._set_template(engine, template)

    @work(thread=True, exclusive=True, group="template")
    def _set_template(self, engine: Engine, template: str) -> None:
        try:
            engine.set_template(template)
        except Exception as exc:  # noqa: BLE001 - one line in a notification, never a crash
            self.post_message(TemplateSet(engine, error_line(exc)))
        else:
            self.post_message(TemplateSet(engine))

    def on_template_set(self, message: TemplateSet) -> None:
        self.chat.show_busy(None)
        if message.error is not None:
            self.notify(message.error, severity="error", title="template not changed")
        elif message.engine is self.engine and self.model_spec:
            self.chat.model_ready(self.model_spec)  # the mode may have changed with it

    def on_prompt_saved(self, message: PromptSaved) -> None:
        """The settings panel saved a prompt into config.toml: offer it from now on."""
        prompts = {**self.settings.prompts, message.prompt_name: message.prompt}
        self.settings = replace(self.settings, prompts=prompts)

    # -- actions ----------------------------------------------------------------------------
    def copy_to_clipboard(self, text: str) -> None:
        """The terminal's clipboard (OSC 52, as Textual writes it) and, where a clipboard
        tool is on PATH, the system's (:mod:`baichuan_tui.ui.clipboard`, in a thread)."""
        from baichuan_tui.ui import clipboard

        super().copy_to_clipboard(text)
        self.run_worker(
            partial(clipboard.system_copy, text),
            thread=True,
            group="clipboard",
            exit_on_error=False,
        )

    def binding_groups(self) -> list[tuple[str, list[BindingType]]]:
        """The rebindable keys, by where they act (F1 lists them, ``[keymap]`` names them)."""
        from baichuan_tui.ui.widgets.messages import MessageView
        from baichuan_tui.ui.widgets.prompt_input import PromptInput
        from baichuan_tui.ui.widgets.sidebar import ConversationList

        return [
            ("app", list(self.BINDINGS)),
            ("chat", list(ChatScreen.BINDINGS)),
            ("input", list(PromptInput.BINDINGS)),
            ("chat list", list(ConversationList.BINDINGS)),
            ("message", list(MessageView.BINDINGS)),
            ("app", [Binding("ctrl+p", "command_palette", "Command palette")]),
        ]

    def action_help(self) -> None:
        from baichuan_tui.ui.screens.help import HelpScreen, binding_rows

        rows = binding_rows(self.binding_groups(), dict(self.settings.keymap))
        self.push_screen(HelpScreen(rows))

    def action_quiz(self, take: bool = False) -> None:
        from baichuan_tui.ui.screens.quiz import QuizRunScreen, QuizTakeScreen

        self.push_screen(QuizTakeScreen() if take else QuizRunScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.chat
        run = chat.run_action
        entries: list[tuple[str, str, Any]] = [
            ("New chat", "Start an empty chat with the launch settings", partial(run, "new_chat")),
            ("Stop reply", "Stop the reply being generated (keeps it)", partial(run, "stop")),
            ("Regenerate reply", "Replace the last reply", partial(run, "regenerate")),
            (
                "Continue reply",
                "Continue a reply cut at max_tokens or stopped",
                partial(run, "continue_reply"),
            ),
            (
                "Edit last message",
                "Edit your last message and resend from there",
                partial(run, "edit_last"),
            ),
            ("Rename chat", "Give the open chat a new title", partial(run, "rename")),
            (
                "Delete chat",
                "Delete the open chat (undo available)",
                partial(run, "delete_current"),
            ),
            ("Undo delete", "Bring back the last deleted chat", partial(run, "undo_delete")),
            ("Search chats", "Search titles and messages", partial(run, "search")),
            ("Toggle sidebar", "Show or hide the chat list", partial(run, "toggle_sidebar")),
            (
                "Settings",
                "Sampling, system prompt, context and GPU layers",
                partial(run, "settings"),
            ),
            ("Models", "Switch, download or open a model", partial(run, "models")),
            (
                "LoRA adapters",
                "Apply, re-scale or remove adapters on the loaded model (no reload)",
                partial(run, "adapters"),
            ),
            (
                "Compare models",
                "One prompt, 2-4 models side by side (blind mode: vote A/B)",
                partial(run, "compare"),
            ),
            (
                "Export chat as Markdown",
                "Write the open chat to a file (asks where)",
                partial(chat.export, "md"),
            ),
            (
                "Export chat as JSON",
                "Write the open chat to a file (asks where)",
                partial(chat.export, "json"),
            ),
            (
                "Copy last code block",
                "The last code block of the latest reply that has one",
                partial(run, "copy_last_block"),
            ),
            (
                "Open message in $EDITOR",
                "Write a long message in your editor",
                lambda: chat.input.action_editor(),
            ),
            (
                "Quiz: run a benchmark",
                "Score the loaded model on C-Eval, CMMLU, MMLU, ...",
                self.action_quiz,
            ),
            (
                "Quiz: take the quiz",
                "Answer benchmark questions yourself beside the model",
                partial(self.action_quiz, True),
            ),
            ("Help: keys", "Every key and its keymap id", self.action_help),
            (
                "Light / dark theme",
                "Switch between the light and dark theme",
                self.action_toggle_theme,
            ),
        ]
        for title, help_text, callback in entries:
            yield SystemCommand(title, help_text, callback)

    async def action_quit(self) -> None:
        self.chat.cancel_reply(wait=2)  # its last write is made (or kept) before we look
        store = self.store
        if store.has_unsaved and not store.readonly and not store.save_pending():
            docs = store.unsaved_documents()
            stamp = time.strftime("%Y%m%d-%H%M%S")
            dialog = UnsavedOnQuit(
                store.unsaved or "the history cannot be written",
                len(docs),
                str(locations.unsaved_rescue_file(stamp)),
            )
            self.push_screen(dialog, self._quit_with_unsaved)
            return
        self.exit()

    def _quit_with_unsaved(self, choice: tuple[str, str] | None) -> None:
        """What the quit dialog chose: quit only once nothing is lost or the user says so."""
        if choice is None:
            return
        action, path = choice
        if action == "retry":
            if self.store.save_pending():
                self.exit()
            else:
                self.notify(f"still not stored: {self.store.unsaved}", severity="error")
        elif action == "save":
            from baichuan_tui.store.export import rescue_text, write_export

            docs = self.store.unsaved_documents()
            try:
                write_export(rescue_text(docs), Path(path).expanduser(), self.store.path)
            except UserError as exc:
                self.notify(error_line(exc), severity="error", timeout=10)
                return
            self.exit(message=f"{len(docs)} unsaved chat(s) written to {path}")
        elif action == "quit":
            self.exit()

    def on_unmount(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop a reply (it is stored as stopped), free the model, close the store."""
        self.chat.cancel_reply(wait=5)
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()
        self.store.save_pending()  # a last try for what a full disk refused
        if self._own_store:
            self.store.close()
