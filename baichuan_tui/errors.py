"""User-facing errors: one line saying what went wrong and what to do.

The CLI catches :class:`UserError` at the top, prints ``error: <message>`` to stderr and exits
with :attr:`UserError.exit_code`. Nothing else in the package prints errors.
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can act on. ``str(err)`` is the whole one-line message."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}: {hint}" if hint else message)


class UsageError(UserError):
    """Bad command-line usage (exit 2)."""

    exit_code = 2


class BadModelFile(UserError):
    """A model file that must not be handed to llama.cpp."""

    def __init__(self, path: object, problem: str, hint: str | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(
            f"{self.path} {problem}",
            hint or "download it again or pick another .gguf file",
        )


class ModelNotFound(UserError):
    """A model name or path that does not lead to a file."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s text, or its type's name when it has none."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def error_line(exc: BaseException) -> str:
    """The one line shown for ``exc``: a :class:`UserError`'s own text, else ``Type: text``."""
    if isinstance(exc, UserError):
        return str(exc)
    return f"{type(exc).__name__}: {first_line(exc)}"


class Cancelled(Exception):
    """Raised inside workers when the user asked to stop."""
