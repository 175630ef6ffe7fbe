"""``python -m graders`` does what the ``nngrade`` command does (isolated first: graders/entry.py).

Run it only from a folder you trust: when the current folder holds a ``graders`` package or module, Python
imports that instead of this one. The console script ``nngrade`` has no such weakness.
"""

from graders.entry import console

console()
