"""Text a user hands over as bytes or a file: decoding (one rule for ``ask``'s stdin and the
app's attached files) and a file fenced into a message.

Decoding: UTF-8 (a BOM, UTF-16 with a BOM), else the locale's encoding, else GB18030 (GBK's
superset, what Chinese Windows and many files use). A file with NUL bytes is not text (an
image, a PDF, an archive); UTF-16 starts with its BOM and is let through.
"""

from __future__ import annotations

import locale
import re
from dataclasses import dataclass
from pathlib import Path

from baichuan_tui.errors import UserError

MAX_ATTACH_BYTES = 4 << 20
"""The largest file attached to a message (far past any context; read whole to count it)."""
BINARY_SNIFF = 8192
"""Bytes looked at for NULs."""
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_input(data: bytes, what: str = "the input") -> str:
    """Text from bytes a user gave (see the module); a one-line :class:`UserError` when no
    encoding fits, before any model is loaded."""
    if data.startswith(UTF16_BOMS):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8-sig", locale.getpreferredencoding(False), "gb18030"]
    for encoding in dict.fromkeys(encodings):
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise UserError(
        f"{what} is not UTF-8 or GB18030 text",
        "convert it first, e.g. iconv -f ENCODING -t UTF-8",
    )


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` is not text: NUL bytes near its start (UTF-16 with a BOM aside)."""
    return not data.startswith(UTF16_BOMS) and b"\x00" in data[:BINARY_SNIFF]


@dataclass(frozen=True)
class Attachment:
    """A text file as a message carries it."""

    name: str
    text: str

    @property
    def fenced(self) -> str:
        """The file's name, then its text in a code fence longer than any backtick run in it
        (so the file cannot close it), with its suffix as the language."""
        longest = run = 0
        for ch in self.text:
            run = run + 1 if ch == "`" else 0
            longest = max(longest, run)
        ticks = "`" * max(3, longest + 1)
        body = self.text.rstrip("\n")
        return f"File `{self.name}`:\n\n{ticks}{_language(self.name)}\n{body}\n{ticks}"


def _language(name: str) -> str:
    """The fence's language: the file's suffix (``py``, ``json``, ``sh``), '' for none or
    plain text."""
    suffix = Path(name).suffix.lower().lstrip(".")
    ok = bool(re.fullmatch(r"[a-z0-9+#-]{1,12}", suffix)) and suffix not in ("txt", "text", "log")
    return suffix if ok else ""


def read_attachment(path: Path) -> Attachment:
    """A text file to attach; one-line :class:`UserError` for a missing file, a folder, a
    file too big, a binary or undecodable one."""
    path = Path(path).expanduser()
    name = path.name
    if path.is_dir():
        raise UserError(f"{path} is a folder", "attach one text file")
    try:
        size = path.stat().st_size
        if size > MAX_ATTACH_BYTES:
            raise UserError(
                f"{name} is {size:,} bytes: too big to attach",
                f"attach a text file of at most {MAX_ATTACH_BYTES:,} bytes",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"no file {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror or exc})") from None
    if looks_binary(data):
        raise UserError(f"{name} is not a text file", "attach text: code, notes, logs, CSV")
    text = decode_input(data, name)
    if not text.strip():
        raise UserError(f"{name} is empty")
    return Attachment(name, text)
