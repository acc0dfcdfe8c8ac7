"""Benchmark quizzes in the app: run one for the loaded model, or take it yourself beside it.

:class:`QuizRunScreen` (``run.py``) scores a benchmark as ``quiz run`` does, with live progress
and a bar chart; :class:`QuizTakeScreen` (``take.py``) asks one subject's questions beside the
model. Both only show and call: the quiz rules live in :mod:`baichuan_tui.quiz.session`.
"""

from baichuan_tui.ui.screens.quiz.run import QuizRunScreen
from baichuan_tui.ui.screens.quiz.take import QuizTakeScreen

__all__ = ["QuizRunScreen", "QuizTakeScreen"]
