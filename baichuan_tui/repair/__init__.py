"""Find and repair Baichuan2 GGUFs whose output head was never normalised (NormHead).

Headless (no Textual); importing the package is cheap (numpy and gguf load on use). The package
imports nothing itself: import the modules.

- ``check``: :class:`check.HeadCheck`, the verdict on one file's head.
- ``detect``: :func:`detect.check_head` (``quick`` sampled rows / ``exact`` every row).
- ``verdicts``: the per-file verdict cache.
- ``fix``: :func:`fix.repair_file` writes the repaired copy (``baichuan-chat models fix``).
- ``notice``: one-line warnings for the CLI and the app, and the repaired copy of a file.
"""
