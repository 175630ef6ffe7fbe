"""Fixtures for the grader's behaviour tests: a small assignment of our own, student modules written as text.

Why an assignment of our own: the built-in ones list specs that are still being written; the four dense
specs (affine and ReLU, forward and backward) are enough to exercise every path of the engine, and the tests
stay independent of the rest of the registry. Student code is always a string written into ``tmp_path``, so
each test shows exactly what the student handed in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from graders.assignment import Assignment, GradedFunction, load
from graders.grade import GradeOptions, grade
from graders.sandbox.process import Limits
from graders.specs import dense
from graders.specs.kit.programs import forward_program

DENSE_TOML = """\
name = "dense-mini"
title = "affine and ReLU layers (grader tests)"
forbidden_imports = ["torch"]

[modules.layers]
paths = ["cs231n/layers.py", "layers.py"]

[[functions]]
spec = "affine_forward"
points = 2
[[functions]]
spec = "affine_backward"
points = 3
[[functions]]
spec = "relu_forward"
points = 1
[[functions]]
spec = "relu_backward"
points = 1
"""

DENSE_FUNCTIONS = ("affine_forward", "affine_backward", "relu_forward", "relu_backward")

#: A correct layers.py, vectorised.
CORRECT_VECTORISED = '''\
import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), flat.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)
'''

#: A correct layers.py written the other way: loops, ``x >= 0`` mask, copies, a cache of a different layout.
CORRECT_LOOPED = '''\
import numpy as np


def affine_forward(x, w, b):
    n = x.shape[0]
    flat = np.reshape(x, (n, -1))
    out = np.zeros((n, w.shape[1]))
    for i in range(n):
        for j in range(w.shape[1]):
            out[i, j] = np.sum(flat[i] * w[:, j]) + b[j]
    cache = {"x": x, "w": w}
    return out, cache


def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    n = x.shape[0]
    flat = x.reshape(n, -1)
    dx = np.zeros_like(flat)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[1])
    for i in range(n):
        dx[i] = w @ dout[i]
        dw += np.outer(flat[i], dout[i])
        db += dout[i]
    return dx.reshape(x.shape), dw, db


def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    return out, x


def relu_backward(dout, cache):
    dx = np.where(cache >= 0, dout, 0.0)
    return dx
'''


def with_override(source: str, override: str) -> str:
    """``source`` followed by ``override``: a later ``def`` of the same name replaces the correct one."""
    return source + "\n\n" + textwrap.dedent(override).strip() + "\n"


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``{relative path: text}`` under ``root`` and return ``root``."""
    for relpath, content in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return root


def by_name(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in report["functions"]}


def full_marks(entry: Mapping[str, Any]) -> bool:
    return entry["status"] == "passed" and entry["score"] == entry["max_score"] > 0


def worker_pids(marker: str) -> list[int]:
    """Live (non-zombie) processes running the sandbox worker script whose command line contains ``marker``.

    Reads /proc directly (psutil is not a dependency): the worker's command line is
    ``python -I -B <session dir>/runN/worker_main.py <fd> <fd>``, so a private temporary directory identifies
    the workers of one test even when other tests grade concurrently.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        state = stat.rpartition(")")[2].split()[0] if ")" in stat else "?"
        if "worker_main.py" in cmdline and marker in cmdline and state != "Z":
            found.append(int(entry))
    return found


@pytest.fixture()
def dense_toml(tmp_path: Path) -> Path:
    """The dense mini assignment as a .toml file in a folder of its own (apart from any class folder a test
    builds in ``tmp_path``)."""
    path = tmp_path / "assignment" / "dense-mini.toml"
    path.parent.mkdir()
    path.write_text(DENSE_TOML)
    return path


@pytest.fixture(scope="session")
def dense_assignment(tmp_path_factory: pytest.TempPathFactory) -> Assignment:
    path = tmp_path_factory.mktemp("assignment") / "dense-mini.toml"
    path.write_text(DENSE_TOML)
    return load(str(path))


@pytest.fixture(scope="session")
def two_module_assignment(dense_assignment: Assignment) -> Assignment:
    """The dense assignment plus a second module ``utils`` whose ``relu_forward`` is graded as ``utils_relu``.

    Lets a test break ``layers.py`` and check that the other module is still graded.
    """
    spec = dataclasses.replace(dense.relu_forward(), name="utils_relu", module="utils",
                               program=forward_program("utils", "relu_forward", "x"))
    extra = GradedFunction(spec, 1.0, {"out": 0.8, "robust:inputs_unchanged": 0.2})
    modules = dict(dense_assignment.modules, utils=["cs231n/utils.py", "utils.py"])
    return dataclasses.replace(dense_assignment, name="dense-two-modules", modules=modules,
                               functions=[*dense_assignment.functions, extra])


@pytest.fixture()
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Send the grader's temporary folders (staging, worker homes) into this test's tmp_path."""
    folder = tmp_path / "grader-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))  # a caller's TMPDIR wins over /dev/shm (graders.isolation.scratch_base)
    return folder


GradeFn = Callable[..., dict[str, Any]]


@pytest.fixture()
def grade_submission(dense_assignment: Assignment) -> GradeFn:
    """grade_submission(path, *, assignment=None, seed=0, call_timeout_s=10.0, progress=None, lanes=None)
    -> report."""

    def run(path: Path, *, assignment: Assignment | None = None, seed: int = 0, call_timeout_s: float = 10.0,
            progress: Callable[[str], None] | None = None, lanes: int | None = None) -> dict[str, Any]:
        options = GradeOptions(seed=seed, profile="quick", limits=Limits(call_timeout_s=call_timeout_s),
                               progress=progress, lanes=lanes)
        return grade(path, assignment or dense_assignment, options)

    return run


@pytest.fixture()
def leftover_killer() -> Iterator[list[int]]:
    """Pids a test found running after grading; killed (by pid, only these) when the test ends."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
