"""``python -m graders`` does what the ``nngrade`` command does."""

from graders.cli import run

run()
