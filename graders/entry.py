"""The first code of the ``nngrade`` console script and of ``python -m graders``.

It re-executes the process as ``python -I`` (see :mod:`graders.isolation` for why) before importing anything
else: ``os`` and ``sys`` are loaded by the interpreter itself before any user code, so a ``numpy.py`` or
``click.py`` in the current folder cannot take over the grader on the way.
"""

import os
import sys

REEXEC_VARIABLE = "NNGRADE_ISOLATED"


def console() -> None:
    """Run the CLI isolated from the caller's folder and ``PYTHON*`` variables, re-executing once if needed."""
    if not sys.flags.isolated and not os.environ.get(REEXEC_VARIABLE):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        os.environ[REEXEC_VARIABLE] = "1"  # never loop, even on an interpreter that ignores -I
        boot = f"import sys; sys.path.insert(0, {root!r}); from graders.cli import run; run()"
        os.execv(sys.executable, [sys.executable, "-I", "-c", boot, *sys.argv[1:]])
    from graders.cli import run

    run()
