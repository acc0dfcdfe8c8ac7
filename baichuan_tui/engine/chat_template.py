"""Render a model's embedded Jinja chat template, only inside Jinja's immutable sandbox.

Templates in GGUF metadata are untrusted input: a template can try to reach Python internals
(``cycler.__init__.__globals__.os.system``). The sandbox refuses such access; we turn the refusal
into a one-line user error.
"""

from __future__ import annotations

from collections.abc import Sequence

from baichuan_tui.engine.prompts import Message
from baichuan_tui.errors import UserError


def render(
    template: str,
    messages: Sequence[Message],
    *,
    bos_token: str,
    eos_token: str,
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text the template makes of ``messages``."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(template).render(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
        )
    except SecurityError as exc:
        raise UserError(
            f"the model's chat template tried something unsafe ({exc})",
            "use --template completion or another template",
        ) from None
    except TemplateError as exc:
        raise UserError(
            f"the model's chat template failed: {exc}", "use --template to pick another template"
        ) from None
