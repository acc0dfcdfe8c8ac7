"""Benchmark quizzes: datasets, byte-exact prompts, letter scoring with prefix reuse, results.

Headless: nothing here imports Textual. The CLI (``commands/quiz.py``) and the app drive
:func:`baichuan_tui.quiz.runner.run_quiz` through its progress callback.
"""
