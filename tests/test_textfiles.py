"""Text from a user's bytes and files (issue 14, item 6): one decoding rule for ask's stdin and
the app's attachments; binary, undecodable, missing and oversized files refused in one line."""

from __future__ import annotations

import pytest

from baichuan_tui import textfiles
from baichuan_tui.errors import UserError
from baichuan_tui.textfiles import Attachment, read_attachment


def test_a_file_is_fenced_with_its_name_and_language():
    fenced = Attachment("add.py", "def add(a, b):\n    return a + b\n").fenced
    assert fenced == "File `add.py`:\n\n```py\ndef add(a, b):\n    return a + b\n```"
    assert Attachment("notes.txt", "hi").fenced == "File `notes.txt`:\n\n```\nhi\n```"


def test_a_fence_inside_the_file_cannot_close_it():
    text = "# Readme\n\n```sh\nmake\n```\n"
    fenced = Attachment("README.md", text).fenced
    assert fenced.startswith("File `README.md`:\n\n````md\n") and fenced.endswith("\n````")


def test_gbk_and_utf8_files_are_read(tmp_path):
    for name, data in (
        ("gbk.txt", "你好，百川\n".encode("gbk")),
        ("u8.txt", "你好，百川\n".encode()),
    ):
        (tmp_path / name).write_bytes(data)
        assert read_attachment(tmp_path / name) == Attachment(name, "你好，百川\n")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "logo.png is not a text file"),
        ("latin.bin", "caf\u00e9 ".encode("cp1252") + b"\xff\xfe\x81" * 3, None),
        ("blank.txt", b"  \n\n", "blank.txt is empty"),
    ],
)
def test_what_is_refused(tmp_path, monkeypatch, name, data, says):
    monkeypatch.setattr(textfiles.locale, "getpreferredencoding", lambda _=False: "utf-8")
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UserError) as err:
        read_attachment(tmp_path / name)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(says or f"{name} is not UTF-8 or GB18030 text")


def test_missing_folder_and_too_big(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="^no file .*nope.txt$"):
        read_attachment(tmp_path / "nope.txt")
    with pytest.raises(UserError, match="is a folder"):
        read_attachment(tmp_path)
    monkeypatch.setattr(textfiles, "MAX_ATTACH_BYTES", 10)
    (tmp_path / "big.txt").write_text("x" * 11)
    with pytest.raises(
        UserError, match="^big.txt is 11 bytes: too big to attach: .* at most 10 bytes$"
    ):
        read_attachment(tmp_path / "big.txt")
