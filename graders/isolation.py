"""Keeping the grader's own (trusted) processes away from the places students control.

WHY: Python puts the folder of the script, or the working directory for ``-m`` and ``-c``, first on
``sys.path``, and honours ``PYTHONPATH``. A batch started from inside a class folder therefore imported an
entry named ``numpy.py`` or ``graders.py`` into the grading process, as root. Every trusted process nngrade
starts (the batch's grading processes; the CLI itself, which re-executes once) runs as ``python -I`` (no
``PYTHON*`` variables, no user site-packages, no script or working folder on ``sys.path``; Python 3.11's ``-P``
is implied), in a working folder of its own, with an environment built from a short list of variables. The
only folder put on ``sys.path`` is the one holding nngrade's own packages.

``python -m graders`` cannot be protected this way when the current folder holds a ``graders`` package or
module (Python imports it before any code of ours runs): the console script ``nngrade`` is the way to run the
grader; ``python -m graders`` is for a folder you trust (the README says so). The CLI's own re-execution is in
:mod:`graders.entry`, which imports nothing a student's file could shadow.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import graders

#: The folder that holds the ``graders`` and ``reference`` packages (a checkout or site-packages).
PACKAGE_ROOT = str(Path(graders.__file__).resolve().parents[1])
#: Variables a (trusted) grading process may inherit: locale, a home for caches, where MNIST lives, BLAS
#: threads, the case bank, and the course spec folders given with --specs (graders/courses.py).
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "XDG_CACHE_HOME", "NNGRADE_MNIST_DIR",
                    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "HYPOTHESIS_PROFILE",
                    "NNGRADE_CASE_BANK", "NNGRADE_SPECS")


def boot_code(module: str, function: str) -> str:
    """Source for ``python -I -c``: put nngrade's folder first on sys.path, then call ``module.function()``."""
    return (f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); "
            f"from {module} import {function}; {function}()")


def isolated_command(module: str, function: str) -> list[str]:
    """The command line of a trusted subprocess that runs ``module.function()``."""
    return [sys.executable, "-I", "-c", boot_code(module, function)]


def clean_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment reduced to :data:`PASSED_VARIABLES`, plus ``overrides``."""
    env = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(overrides or {})
    return env


#: A shared memory-backed folder for grading's scratch files, where the system has one.
MEMORY_TEMPORARY = "/dev/shm"
#: Free space the memory-backed folder must have to be used (a class's workers each copy a submission there).
MEMORY_TEMPORARY_MIN_FREE = 1 << 30
_TEMPORARY_VARIABLES = ("TMPDIR", "TEMP", "TMP")


def scratch_base() -> str | None:
    """Where grading's short-lived folders go (staged submissions, the workers' folders): the caller's TMPDIR
    when they set one (a batch sets it to each grading process's private home, removed with it), else
    :func:`memory_folder` when there is one, else the system default (None).

    WHY memory: every function's fresh worker gets its own copy of the staged submission, and on a disk file
    system those folders and files (a few hundred per submission) cost about a quarter of a warm grading's time
    on this project's CI machine. The folders are mkdtemp's (0700, unpredictable names), as anywhere else."""
    if any(os.environ.get(name) for name in _TEMPORARY_VARIABLES):
        return None
    return memory_folder()


def memory_folder() -> str | None:
    """/dev/shm when it is the system's shared memory-backed folder (a real folder, root's, sticky and open to
    all) with room left and this process may create folders in it; else None."""
    try:
        info = os.lstat(MEMORY_TEMPORARY)
        space = os.statvfs(MEMORY_TEMPORARY)
    except OSError:
        return None
    shared = stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and info.st_mode & 0o1777 == 0o1777
    if shared and space.f_bavail * space.f_frsize >= MEMORY_TEMPORARY_MIN_FREE and os.access(
            MEMORY_TEMPORARY, os.W_OK | os.X_OK):
        return MEMORY_TEMPORARY
    return None


def owned_prefix(prefix: str) -> str:
    """A scratch folder's name prefix (``nngrade-<kind>-``) with this process's id after it, so that a folder
    left behind by a grader that was killed can be recognised and removed later (:func:`sweep_stale`)."""
    return f"{prefix}{os.getpid()}-"


def private_folder(prefix: str) -> Path:
    """A fresh folder only this user can enter (mkdtemp: mode 0700), in :func:`scratch_base`."""
    return Path(tempfile.mkdtemp(prefix=owned_prefix(prefix), dir=scratch_base()))


#: A scratch folder nngrade made: ``nngrade-<kind>-<pid of its maker>-<mkdtemp's random part>``.
_SCRATCH_NAME = re.compile(r"nngrade-[a-z]+(?:-[a-z]+)?-(\d{1,10})-[A-Za-z0-9_]{1,32}")
#: A scratch folder is stale when its maker is gone and nothing changed in it for this long.
STALE_AFTER_S = 3600.0


def sweep_stale(base: str | None = None, now: float | None = None) -> list[str]:
    """Remove the scratch folders of graders that were killed before they could (SIGKILL, a power cut): in
    ``base`` (default: where this process's scratch folders go), folders of this user named as
    :func:`owned_prefix` names them, whose process no longer exists and that were not modified for
    :data:`STALE_AFTER_S`. Links and other users' folders are left alone. Returns the names removed.

    WHY: staged submissions and workers' folders live in /dev/shm, which is memory: a killed grader's folders
    would hold it until the machine restarts. The age is a second guard for a process id this process cannot
    see (another pid namespace sharing the folder)."""
    folder = base or scratch_base() or tempfile.gettempdir()
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _SCRATCH_NAME.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or now - info.st_mtime < STALE_AFTER_S:
            continue
        if _process_exists(int(match.group(1))):
            continue
        remove_tree(Path(entry.path))
        removed.append(entry.name)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or an id this system cannot hold): not ours to judge
    return True


def remove_tree(path: Path) -> None:
    """Remove a folder whatever a worker left in it (read-only folders included); missing is fine.

    What a failed removal makes writable is only ever a folder inside ``path``, opened without following a
    link: never the folder that holds ``path`` (chmod 0700 on /tmp would lock every other user out of it) and
    never what a link left by the student points to (a link to /etc/shadow must not have its target chmodded
    by a root grader)."""
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=writable_inside(Path(path)))


def writable_inside(root: Path) -> Callable[[object, str, object], None]:
    """``shutil.rmtree``'s error handler for :func:`remove_tree`: make the folder holding ``target`` (and
    ``target``, if it is a folder) writable when inside ``root``, then retry the removal."""
    top = os.path.abspath(root)

    def inside(candidate: str) -> bool:
        candidate = os.path.abspath(candidate)
        return candidate != top and os.path.commonpath([top, candidate]) == top

    def make_writable(function: object, target: str, _exc: object) -> None:
        for folder in (os.path.dirname(target), target):
            if folder == top or inside(folder):
                _chmod_folder(folder)
        with contextlib.suppress(OSError):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)

    return make_writable


def _chmod_folder(folder: str) -> None:
    """chmod u+rwx a folder, only if it is one (a link or a file is left as it is)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.fchmod(fd, stat.S_IRWXU)
    except OSError:
        pass
    finally:
        os.close(fd)
