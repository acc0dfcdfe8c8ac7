"""The settings panel: every sampling value range-checked as you type, presets (the active one
named), the chat's prompt template (the detected one marked), saved prompts (``[prompts]`` in
config.toml: pick one, or save the system prompt and preset under a name), load options."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cache

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, TextArea

from baichuan_tui.engine import sampling as presets
from baichuan_tui.engine.family import TEMPLATES
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.settings import SavedPrompt

FLOATS = {
    "temperature",
    "top_p",
    "min_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
}
OPTIONAL = {"seed"}


@dataclass(frozen=True)
class LoadValues:
    """How the model is loaded (changing them reloads it)."""

    n_ctx: int
    gpu_layers: str
    threads: int | None


@dataclass(frozen=True)
class SettingsResult:
    sampling: Sampling
    system: str | None
    load: LoadValues
    template: str | None = None
    """The template picked (None: unchanged)."""


@dataclass(frozen=True)
class TemplateChoice:
    """The chat's template and the one detected from the model file."""

    current: str
    detected: str


@cache
def field_docs() -> dict[str, str]:
    """Each Sampling field's docstring (the string right after it in the class body)."""
    cls = ast.parse(inspect.getsource(Sampling)).body[0]
    assert isinstance(cls, ast.ClassDef)
    body = cls.body
    docs = {}
    for node, nxt in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
        ):
            docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs


def parse_value(name: str, text: str) -> object:
    """A field's value from its input text; ``ValueError`` when it is not a number."""
    text = text.strip()
    if name in OPTIONAL and not text:
        return None
    return float(text) if name in FLOATS else int(text)


def check_sampling(values: dict[str, str]) -> tuple[Sampling | None, dict[str, str]]:
    """(settings, {field: problem}) for the texts typed; settings is None when any is bad."""
    problems: dict[str, str] = {}
    parsed: dict[str, object] = {}
    for name, text in values.items():
        try:
            parsed[name] = parse_value(name, text)
        except ValueError:
            problems[name] = f"{name} must be a number" + (
                " (or empty)" if name in OPTIONAL else ""
            )
    # Range-check what parsed (unparsable fields take a default so the rest can be checked).
    candidate = Sampling().merged(**parsed)  # seed None = the default
    for sentence in candidate.validate():
        problems.setdefault(sentence.split(" ", 1)[0], sentence)
    return (None if problems else candidate), problems


def check_load(
    n_ctx: str, gpu_layers: str, threads: str
) -> tuple[LoadValues | None, dict[str, str]]:
    problems = {}
    try:
        ctx = int(n_ctx)
        if ctx < 16:
            problems["n_ctx"] = "n_ctx must be at least 16"
    except ValueError:
        problems["n_ctx"] = "n_ctx must be a whole number"
        ctx = 0
    layers = gpu_layers.strip() or "auto"
    if layers != "auto":
        try:
            if int(layers) < -1:
                raise ValueError
        except ValueError:
            problems["gpu_layers"] = "gpu_layers must be auto, -1 (all) or a number of layers"
    n_threads = None
    if threads.strip():
        try:
            n_threads = int(threads)
            if n_threads < 1:
                raise ValueError
        except ValueError:
            problems["threads"] = "threads must be empty (physical cores) or 1 or more"
    return (None if problems else LoadValues(ctx, layers, n_threads)), problems


class PromptSaved(Message):
    """A prompt was saved into config.toml (the app's settings learn it)."""

    def __init__(self, prompt_name: str, prompt: SavedPrompt) -> None:
        super().__init__()
        self.prompt_name = prompt_name
        self.prompt = prompt


class SettingsScreen(ModalScreen[SettingsResult | None]):
    """Edit the open chat's sampling and system prompt, and how the model is loaded."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(
        self,
        current: Sampling,
        defaults: Sampling,
        system: str | None,
        load: LoadValues,
        *,
        template: TemplateChoice | None = None,
        prompts: Mapping[str, SavedPrompt] | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.current = current
        self.defaults = defaults
        self.system = system
        self.load = load
        self.template = template
        self.prompts = dict(prompts or {})

    def _row(self, name: str, value: str, doc: str) -> Iterator[Widget]:
        with Horizontal(classes="field"):
            yield Label(name, classes="name")
            yield Input(value, id=f"f-{name}", classes="value", compact=True)
            yield Label(doc, classes="doc")
        yield Label("", id=f"e-{name}", classes="error")

    def compose(self) -> ComposeResult:
        docs = field_docs()
        with Vertical(classes="box wide"):
            yield Label("Settings for this chat", classes="dialog-title")
            with VerticalScroll(id="settings-body"):
                with Horizontal(classes="presets"):
                    yield Label("Presets:")
                    yield Button("Model defaults", id="preset-defaults", compact=True)
                    yield Button("Precise", id="preset-precise", compact=True)
                    yield Button("Creative", id="preset-creative", compact=True)
                    yield Label("", id="preset-name")
                if self.template is not None:
                    with Horizontal(classes="presets"):
                        yield Label("Template:")
                        yield Select(
                            [
                                (f"{t} (detected)" if t == self.template.detected else t, t)
                                for t in TEMPLATES
                            ],
                            value=self.template.current,
                            allow_blank=False,
                            id="template",
                            compact=True,
                        )
                for f in fields(Sampling):
                    value = getattr(self.current, f.name)
                    yield from self._row(
                        f.name, "" if value is None else str(value), docs.get(f.name, "")
                    )
                yield Label("System prompt", classes="section")
                with Horizontal(classes="presets"):
                    yield Label("Saved prompts:")
                    yield Select(
                        [(name, name) for name in sorted(self.prompts)],
                        prompt="pick one",
                        id="saved-prompt",
                        compact=True,
                    )
                    yield Input(placeholder="name", id="prompt-name", compact=True)
                    yield Button("Save prompt", id="save-prompt", compact=True)
                yield TextArea(self.system or "", id="system", classes="system")
                yield Label("Model loading (a change reloads the model)", classes="section")
                yield from self._row("n_ctx", str(self.load.n_ctx), "Context length in tokens.")
                yield from self._row(
                    "gpu_layers",
                    self.load.gpu_layers,
                    "Layers on the GPU: auto, -1 for all, or a number.",
                )
                yield from self._row(
                    "threads", str(self.load.threads or ""), "CPU threads (empty: physical cores)."
                )
            with Horizontal(classes="buttons"):
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Restore defaults", id="restore")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.validate_all()
        self.query_one("#f-temperature", Input).focus()

    def _text(self, name: str) -> str:
        return self.query_one(f"#f-{name}", Input).value

    def validate_all(self) -> SettingsResult | None:
        """Check every field, mark the bad ones; the result when all are good."""
        sampling, problems = check_sampling({f.name: self._text(f.name) for f in fields(Sampling)})
        load, load_problems = check_load(
            self._text("n_ctx"), self._text("gpu_layers"), self._text("threads")
        )
        problems.update(load_problems)
        for name in [f.name for f in fields(Sampling)] + ["n_ctx", "gpu_layers", "threads"]:
            self.query_one(f"#f-{name}", Input).set_class(name in problems, "-invalid")
            error = self.query_one(f"#e-{name}", Label)
            error.update(problems.get(name, ""))
            error.display = name in problems
        self.query_one("#apply", Button).disabled = bool(problems)
        named = presets.preset_name(sampling, self.defaults) if sampling else None
        self.query_one("#preset-name", Label).update(f"active: {named or 'custom'}")
        if sampling is None or load is None:
            return None
        system = self.query_one("#system", TextArea).text.strip() or None
        return SettingsResult(sampling, system, load, self._template())

    def _template(self) -> str | None:
        if self.template is None:
            return None
        value = self.query_one("#template", Select).value
        return value if isinstance(value, str) and value != self.template.current else None

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "saved-prompt" or not isinstance(event.value, str):
            return
        saved = self.prompts.get(event.value)
        if saved is None:
            return
        self.query_one("#system", TextArea).text = saved.system
        self.query_one("#prompt-name", Input).value = event.value
        if saved.preset:
            self.fill(presets.preset(saved.preset, self.defaults))

    def save_prompt(self) -> None:
        """Save the system prompt and the active preset as ``[prompts.NAME]``."""
        from baichuan_tui.settings import save_prompt

        name = self.query_one("#prompt-name", Input).value.strip()
        system = self.query_one("#system", TextArea).text.strip()
        result = self.validate_all()
        named = presets.preset_name(result.sampling, self.defaults) if result else None
        prompt = SavedPrompt(system, named)
        try:
            save_prompt(name, prompt)
        except (OSError, ValueError) as exc:
            self.notify(f"not saved: {exc}", severity="error")
            return
        self.prompts[name] = prompt
        self.query_one("#saved-prompt", Select).set_options([(n, n) for n in sorted(self.prompts)])
        self.post_message(PromptSaved(name, prompt))
        self.notify(f"saved prompt '{name}' in config.toml")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.validate_all()

    def fill(self, values: Sampling) -> None:
        for f in fields(Sampling):
            value = getattr(values, f.name)
            self.query_one(f"#f-{f.name}", Input).value = "" if value is None else str(value)
        self.validate_all()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "apply":
            self.action_apply()
        elif button == "save-prompt":
            self.save_prompt()
        elif button == "cancel":
            self.action_cancel()
        elif button == "restore":
            self.query_one("#system", TextArea).text = ""
            for name, value in (("n_ctx", "4096"), ("gpu_layers", "auto"), ("threads", "")):
                self.query_one(f"#f-{name}", Input).value = value
            self.fill(self.defaults)
        elif button and button.startswith("preset-"):
            self.fill(
                {
                    "preset-defaults": self.defaults,
                    "preset-precise": presets.PRECISE,
                    "preset-creative": presets.CREATIVE,
                }[button]
            )

    def action_apply(self) -> None:
        result = self.validate_all()
        if result is None:
            self.notify("fix the values marked in red first", severity="warning")
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
