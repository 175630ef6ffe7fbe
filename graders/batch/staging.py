"""An entry handed in as separate files (a Canvas download) staged as one folder, so it is graded like any
folder: ``OUT/.nngrade-staged/<entry>/layers.py``, ``layer_utils.py``, ... under their original names.

WHY in the output folder: the class folder is never written to, and the batch process owns the output folder
(it holds the lock). The folder is rebuilt from the class folder at every run, so ``--resume`` hashes the same
content and keeps the grade. Each part is opened without following a link and must be a regular file (a part
swapped for a link or a FIFO after discovery is skipped with a warning, never read), and no more than
:data:`graders.submission.MAX_TOTAL_BYTES` are copied per entry; the grader then stages the folder with its own
caps. With ``--scheduler``, the output folder must be readable at the same path on the workers, as the class
folder is.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from graders.batch.discover import Entry
from graders.batch.lms import ExportError, read_bounded
from graders.isolation import remove_tree
from graders.submission import MAX_TOTAL_BYTES

STAGED = ".nngrade-staged"


def stage_parts(entry: Entry, out_dir: Path) -> tuple[Entry, list[str]]:
    """``entry`` itself when it has no parts; else the entry pointing at its freshly staged folder, and a
    warning for each part that could not be staged."""
    if not entry.parts:
        return entry, []
    folder = out_dir / STAGED / entry.name
    remove_tree(folder)
    folder.mkdir(parents=True)
    warnings, left = [], MAX_TOTAL_BYTES
    for name, part in entry.parts:
        try:
            data = read_bounded(part, left, part.name)
        except ExportError as exc:
            warnings.append(f"{entry.name}: {exc}: not graded")
            continue
        left -= len(data)
        # a fresh folder and names checked by the reader (one component, unique): created, never replaced
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return dataclasses.replace(entry, path=folder), warnings
