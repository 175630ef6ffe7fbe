"""Attacks on the trusted side: what surrounds the sandbox (the CLI, the batch, staging, reply parsing, budgets).

The worker sandbox is attacked in test_attacks.py, one hostile function at a time. Here the attacker aims at
the grader's own processes and files: an entry named ``numpy.py`` in the folder a batch is started from,
symbolic links in a submission, forged and malformed replies that used to raise in the parent, a load reply
forged at import time, a submission slow enough to exhaust its time budget, a batch entry killed mid-way, and
control characters in names and messages. Each test asserts what an honest neighbour keeps (full marks), what
the attacker cannot gain (no canary read, no score, no code run in a trusted process), and that nothing is left
on disk and no internal error occurs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from graders.assignment import Assignment
from graders.batch import BatchOptions, run_batch
from graders.batch.progress import make_progress
from graders.grade import GradeOptions, grade
from graders.report import render_reports
from graders.sandbox import landlock, layers
from graders.sandbox.process import Limits
from tests.graders.conftest import (
    CORRECT_LOOPED,
    CORRECT_VECTORISED,
    by_name,
    full_marks,
    with_override,
    write_tree,
)

REPO = Path(__file__).resolve().parents[2]
NNGRADE = Path(sys.executable).with_name("nngrade")
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")

#: Module-level code of an entry that records whether it ran inside a trusted process (one that has loaded
#: the grader's own modules). In the sandbox worker no ``graders`` module is loaded, so it stays silent there.
TRUSTED_TRIPWIRE = """\
import sys as _sys
if any(name == "graders" or name.startswith("graders.") for name in _sys.modules):
    with open({mark!r}, "a") as _handle:
        _handle.write("ran in a trusted process: " + repr(_sys.argv) + "\\n")
"""


def run_cli(args: list[str], cwd: Path, *, module: bool = False, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "graders", *args] if module else [str(NNGRADE), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
                          env=env)


def honest_class(root: Path, mark: Path) -> Path:
    """A class folder whose files named like the grader's imports would run code if a trusted process
    imported them; one honest student."""
    tripwire = TRUSTED_TRIPWIRE.format(mark=str(mark))
    write_tree(root, {
        "numpy.py": tripwire,
        "click.py": tripwire,
        "graders.py": tripwire,
        "hypothesis.py": tripwire,
        "sitecustomize.py": tripwire,
        "honest/cs231n/layers.py": CORRECT_VECTORISED,
    })
    return root


@pytest.mark.skipif(not NNGRADE.exists(), reason="the nngrade console script is not installed beside Python")
def test_batch_started_inside_the_class_folder_runs_no_entry_in_the_grader(tmp_path: Path, dense_toml: Path) -> None:
    mark = tmp_path / "tripwire.log"
    root = honest_class(tmp_path / "class", mark)
    # The caller's PYTHONPATH reaches no process the grader starts (a folder of its own holds look-alikes).
    look_alikes = write_tree(tmp_path / "pythonpath", {"numpy.py": TRUSTED_TRIPWIRE.format(mark=str(mark)),
                                                       "click.py": TRUSTED_TRIPWIRE.format(mark=str(mark))})
    env = dict(os.environ, PYTHONPATH=str(look_alikes))
    done = run_cli(["batch", ".", "--out", str(tmp_path / "out"), "--assignment", str(dense_toml),
                    "--jobs", "1", "--profile", "quick", "--quiet"], cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert not mark.exists(), mark.read_text()
    honest = json.loads((tmp_path / "out" / "honest" / "report.json").read_text())
    assert all(full_marks(f) for f in honest["functions"])
    assert not list(root.glob("*-report")) and not (root / ".hypothesis").exists()


def test_python_m_graders_from_a_folder_with_numpy_py_does_not_import_it(tmp_path: Path) -> None:
    """``python -m graders`` re-executes isolated before importing anything a student's file could shadow (a
    ``graders.py`` there is the documented exception: Python imports it before any code of ours runs)."""
    mark = tmp_path / "tripwire.log"
    folder = honest_class(tmp_path / "class", mark)
    (folder / "graders.py").unlink()
    env = {k: v for k, v in os.environ.items() if k != "NNGRADE_ISOLATED"}
    env["PYTHONPATH"] = str(REPO)  # how a checkout is run without installing; the class folder is the cwd
    done = run_cli(["assignments"], cwd=folder, module=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "cs231n-a2" in done.stdout
    assert not mark.exists(), mark.read_text()


# ------------------------------------------------------------------ staging
def test_symbolic_links_in_a_submission_are_not_followed(tmp_path: Path, grade_submission: Any,
                                                         private_tmp: Path) -> None:
    canary = "canary-" + secrets.token_hex(8)
    outside = write_tree(tmp_path / "outside", {
        "secret.py": f"SECRET = {canary!r}\n",
        "classmate/layers.py": CORRECT_LOOPED,
    })
    layers_py = with_override(CORRECT_VECTORISED, """
        def affine_backward(dout, cache):
            import leak
            raise RuntimeError(leak.SECRET)

        def affine_forward(x, w, b):
            from reference import cs231n
            return cs231n.affine_forward(x, w, b)
    """)
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": layers_py})
    os.symlink(outside / "secret.py", root / "cs231n" / "leak.py")
    os.symlink(REPO / "reference", root / "cs231n" / "reference")
    os.symlink(outside / "classmate", root / "classmate")
    report = grade_submission(root)
    text = json.dumps(report) + "".join(b.decode() for b in render_reports(report).values())
    assert canary not in text
    functions = by_name(report)
    assert functions["affine_backward"]["score"] == 0.0 and functions["affine_forward"]["score"] == 0.0
    assert "No module named" in json.dumps(functions["affine_backward"])
    assert full_marks(functions["relu_forward"]) and full_marks(functions["relu_backward"])
    warnings = " ".join(report["warnings"])
    assert "leak.py" in warnings and "link" in warnings


def test_notebook_nested_100000_deep_beside_correct_layers_is_skipped(tmp_path: Path, grade_submission: Any) -> None:
    nested = '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}"
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED, "scratch.ipynb": nested})
    report = grade_submission(root)
    assert all(full_marks(f) for f in report["functions"])
    assert any("scratch.ipynb" in w for w in report["warnings"])


# ------------------------------------------------------------------ replies forged at import time
FORGED_LOAD_REPLY = """
import json as _json
import os as _os
import struct as _struct
import sys as _sys

_worker = _sys.modules["__main__"]
_header = _json.dumps({"seq": _worker.CURRENT_SEQ[0], "ok": True, "modules": {"layers": "everything"},
                       "forbidden": {"no": "list"}, "blob_sizes": []}).encode()
_os.write(int(_sys.argv[2]), _struct.pack(">I", len(_header)) + _header)
_os._exit(0)
"""


def test_load_reply_forged_at_import_costs_only_its_own_submission(tmp_path: Path, dense_toml: Path,
                                                                   private_tmp: Path) -> None:
    classroom = write_tree(tmp_path / "class", {
        "attacker/cs231n/layers.py": FORGED_LOAD_REPLY + "\n" + CORRECT_VECTORISED,
        "honest/cs231n/layers.py": CORRECT_VECTORISED,
    })
    options = BatchOptions(assignment=str(dense_toml), profile="quick", jobs=1)
    result = run_batch(classroom, tmp_path / "out", options, progress=make_progress(True))
    assert result.failed == []
    outcomes = {o.entry: o for o in result.outcomes}
    assert all(full_marks(f) for f in outcomes["honest"].report["functions"])
    attacker = outcomes["attacker"].report
    assert attacker["score"] == 0.0
    assert {f["status"] for f in attacker["functions"]} == {"crashed"}
    assert all("malformed reply" in f["diagnosis"][0] for f in attacker["functions"])
    assert list(private_tmp.iterdir()) == []


# ------------------------------------------------------------------ forbidden packages, from outside
HIDDEN_PACKAGE = "nngrade_hidden_probe"
ALLOWED_PACKAGE = "nngrade_allowed_probe"


@pytest.mark.skipif(landlock.abi_version() < 1, reason="Landlock is not available in this kernel")
def test_hidden_package_is_unreadable_from_outside_whatever_the_worker_does(tmp_path: Path, private_tmp: Path,
                                                                            dense_assignment: Assignment) -> None:
    """A package the worker's interpreter could import (planted in a folder on its sys.path, as torch sits
    beside NumPy in a project's venv) cannot be read once the assignment forbids it, even with the import gate
    emptied, an import the static scan cannot see, and the file opened directly: the rule lives outside the
    student's process (Landlock, bubblewrap). A package beside it that is not forbidden stays importable."""
    site = Path(tempfile.mkdtemp(prefix="nngrade-test-site-", dir="/tmp"))  # reachable by a worker uid
    try:
        write_tree(site, {f"{HIDDEN_PACKAGE}/__init__.py": "ANSWER = 42\n",
                          f"{ALLOWED_PACKAGE}/__init__.py": "from layers_source import *\n",
                          f"{ALLOWED_PACKAGE}/layers_source.py": CORRECT_VECTORISED})
        (site / ALLOWED_PACKAGE / "__init__.py").write_text("from .layers_source import affine_forward\n")
        for folder, _dirs, files in os.walk(site):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        plan = layers.plan(None)
        forbidding = Assignment(**{**dense_assignment.__dict__, "forbidden_imports": [HIDDEN_PACKAGE]})
        probe = with_override(CORRECT_VECTORISED, f"""
            import importlib
            import sys

            sys.path.insert(0, {str(site)!r})

            def affine_forward(x, w, b):
                return importlib.import_module("{ALLOWED_PACKAGE}").affine_forward(x, w, b)

            def affine_backward(dout, cache):
                for finder in sys.meta_path:
                    for name in ("blocked", "forbidden"):
                        if isinstance(getattr(finder, name, None), set):
                            getattr(finder, name).clear()
                try:
                    text = open({str(site / HIDDEN_PACKAGE / "__init__.py")!r}).read()
                except OSError as exc:
                    text = "unreadable: " + type(exc).__name__
                module = importlib.import_module("nngrade_hidden" + "_probe")
                raise RuntimeError(f"LEAK {{text}} {{module.ANSWER}}")
        """)
        root = write_tree(tmp_path / "sub", {"cs231n/layers.py": probe})
        patched = dict(read_paths=(*plan.read_paths, str(site)), import_dirs=(*plan.import_dirs, str(site)))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(layers, "_plans", {(None, "default"): layers.Plan(**{**plan.__dict__, **patched})})
            report = grade(root, forbidding, GradeOptions(profile="quick", limits=Limits(call_timeout_s=10.0)))
    finally:
        shutil.rmtree(site)
    if "landlock" not in report["sandbox"]["layers"] and "bwrap" not in report["sandbox"]["layers"]:
        pytest.skip("neither Landlock nor bubblewrap confined the worker here")
    functions = by_name(report)
    assert full_marks(functions["affine_forward"]), functions["affine_forward"]  # the folder is readable
    hit = functions["affine_backward"]
    assert hit["score"] == 0.0 and hit["status"] == "error", hit
    assert "LEAK" not in json.dumps(report)
    assert any(word in hit["checks"][0]["message"] for word in ("Permission denied", "not available")), hit
    assert full_marks(functions["relu_forward"]) and full_marks(functions["relu_backward"])


def test_read_rules_split_a_folder_around_a_hidden_package(tmp_path: Path) -> None:
    site = write_tree(tmp_path / "prefix" / "lib" / "site", {
        "numpy/__init__.py": "", "torch/__init__.py": "", "torch_helper.py": "", "six.py": "",
    })
    hidden = layers.hidden_paths(layers.Plan("default", "python", "2", False, False, False, None, (),
                                             import_dirs=(str(site),)), ["torch"])
    assert hidden == [str(site / "torch")]
    read = landlock.READ_FILE | landlock.READ_DIR
    rules = dict(landlock.read_rules([str(tmp_path / "prefix"), str(site)], hidden, read))
    assert rules[str(tmp_path / "prefix")] == landlock.READ_DIR  # listable, but nothing read beneath by it
    assert rules[str(site)] == landlock.READ_DIR
    assert rules[str(site / "numpy")] == read and rules[str(site / "six.py")] == read
    assert rules[str(site / "torch_helper.py")] == read  # another name that merely starts alike
    assert str(site / "torch") not in rules and not any(p.startswith(str(site / "torch") + "/") for p in rules)


# ------------------------------------------------------------------ time budget
SLOW_BACKWARD = """
    import time

    def affine_backward(dout, cache):
        time.sleep(1.0)
        x, w, b = cache
        return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
"""


@pytest.mark.parametrize("lanes", [1, 2])
def test_time_budget_keeps_the_points_earned_and_marks_the_rest_timeout(tmp_path: Path, dense_assignment: Assignment,
                                                                        lanes: int) -> None:
    """One function at a time, those after the hanging one are never reached; two at a time, the other lane
    grades them while the hanging call holds its own."""
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": with_override(CORRECT_VECTORISED, SLOW_BACKWARD)})
    options = GradeOptions(profile="quick", limits=Limits(call_timeout_s=10.0), budget_s=5.0, lanes=lanes)
    report = grade(root, dense_assignment, options)
    functions = by_name(report)
    assert full_marks(functions["affine_forward"])
    assert functions["affine_backward"]["status"] == "timeout"
    assert "time budget" in functions["affine_backward"]["checks"][0]["message"]
    after = [functions[name] for name in ("relu_forward", "relu_backward")]
    if lanes == 1:
        assert all(f["status"] == "timeout" and "time budget" in f["diagnosis"][0] for f in after)
        assert report["score"] == functions["affine_forward"]["max_score"]
    else:
        assert all(full_marks(f) for f in after)
        assert report["score"] == sum(f["max_score"] for f in (functions["affine_forward"], *after))
    assert any("time budget of 5 s ran out" in w for w in report["warnings"])
    assert report["duration_s"] < 5.0 + 10.0


def test_a_slow_batch_entry_is_graded_within_its_budget_not_failed(tmp_path: Path, dense_toml: Path,
                                                                   private_tmp: Path) -> None:
    classroom = write_tree(tmp_path / "class", {
        "slow/cs231n/layers.py": with_override(CORRECT_VECTORISED, SLOW_BACKWARD),
        "honest/cs231n/layers.py": CORRECT_VECTORISED,
    })
    options = BatchOptions(assignment=str(dense_toml), profile="quick", jobs=2, budget_s=5.0, entry_timeout_s=120)
    result = run_batch(classroom, tmp_path / "out", options, progress=make_progress(True))
    assert result.failed == []
    outcomes = {o.entry: o for o in result.outcomes}
    assert all(full_marks(f) for f in outcomes["honest"].report["functions"])
    slow = by_name(outcomes["slow"].report)
    assert full_marks(slow["affine_forward"]) and slow["affine_backward"]["status"] == "timeout"
    assert list(private_tmp.iterdir()) == []


def test_a_killed_batch_entry_leaves_no_folder_behind(tmp_path: Path, dense_toml: Path, private_tmp: Path) -> None:
    hang = with_override(CORRECT_VECTORISED, """
        import os
        import time

        def affine_backward(dout, cache):
            with open(os.path.join(os.environ["TMPDIR"], "scratch"), "wb") as handle:
                handle.write(b"x" * (8 << 20))
            time.sleep(600)
    """)
    classroom = write_tree(tmp_path / "class", {"hangs/cs231n/layers.py": hang,
                                                "honest/cs231n/layers.py": CORRECT_VECTORISED})
    options = BatchOptions(assignment=str(dense_toml), profile="quick", jobs=1, entry_timeout_s=8.0,
                           limits={"call_timeout_s": 60.0})
    result = run_batch(classroom, tmp_path / "out", options, progress=make_progress(True))
    assert result.failed == ["hangs"]
    outcomes = {o.entry: o for o in result.outcomes}
    assert all(full_marks(f) for f in outcomes["honest"].report["functions"])
    assert list(private_tmp.iterdir()) == [], "a killed grading process left its folders behind"


# ------------------------------------------------------------------ control characters
@pytest.mark.skipif(not NNGRADE.exists(), reason="the nngrade console script is not installed beside Python")
def test_control_characters_from_names_and_errors_reach_no_output(tmp_path: Path, dense_toml: Path) -> None:
    evil = "\x1b]0;owned\x07\x1b[2J\u202e"
    raising = with_override(CORRECT_VECTORISED, f"""
        def affine_backward(dout, cache):
            raise RuntimeError({evil!r} * 3)
    """)
    classroom = write_tree(tmp_path / "class", {
        f"st{evil}udent/cs231n/layers.py": raising,
        f"notes{evil}.txt": "not a submission\n",
        "honest/cs231n/layers.py": CORRECT_VECTORISED,
    })
    out = tmp_path / "out"
    done = run_cli(["batch", str(classroom), "--out", str(out), "--assignment", str(dense_toml), "--jobs", "1",
                    "--profile", "quick"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ignored (not submissions)" in done.stdout
    for stream in (done.stdout, done.stderr):
        assert not any(c in stream for c in CONTROLS), repr(stream)
    written = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".md", ".csv", ".xml", ".json")]
    assert any(p.name == "summary.html" for p in written) and any(p.name == "gradebook.csv" for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8-sig")
        assert not any(c in text for c in CONTROLS), path
    single = run_cli(["grade", str(next(classroom.glob("st*udent"))), "--assignment", str(dense_toml),
                      "--out", str(tmp_path / "one"), "--profile", "quick"], cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert not any(c in single.stdout + single.stderr for c in CONTROLS)

