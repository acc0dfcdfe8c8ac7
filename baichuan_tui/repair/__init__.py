"""Find and repair Baichuan2 GGUFs whose output head was never normalised (NormHead).

Headless (no Textual); importing the package is cheap (numpy and gguf load on use).

- ``detect``: :func:`detect.check_head` (``quick`` sampled rows / ``exact`` every row).
- ``verdicts``: the per-file verdict cache.
- ``fix``: :func:`fix.repair` writes the repaired copy (``baichuan-chat models fix``).
- ``notice``: one-line warnings for the CLI and the app, and the repaired copy of a file.
"""

from baichuan_tui.repair.notice import fix_command, normhead_notice, repaired_version

__all__ = ["fix_command", "normhead_notice", "repaired_version"]
