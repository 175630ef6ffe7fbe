"""An interrupted batch (Ctrl-C, SIGINT) still writes the gradebook and the class summary of what it graded,
marked incomplete, and exits 130 saying so; --resume then finishes it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from graders.batch import BATCH_LOG_VARIABLE, BatchOptions, run_batch
from graders.batch.progress import make_progress
from graders.batch.run import BatchInterrupted
from graders.batch.task import Task, run_task
from tests.graders.conftest import CORRECT_VECTORISED, write_tree

HANGS_AT_IMPORT = "import time\ntime.sleep(600)\n" + CORRECT_VECTORISED


class InterruptedAfter:
    """An executor that grades ``count`` tasks in this process, then acts as if Ctrl-C was pressed."""

    description = "in-process, interrupted"

    def __init__(self, count: int) -> None:
        self.count = count
        self.closed = False

    def run(self, tasks: Sequence[str]) -> Iterator[str]:
        for task in tasks[: self.count]:
            yield run_task(Task.from_json(task))
        raise KeyboardInterrupt

    def close(self) -> None:
        self.closed = True


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    text = (out / "gradebook.csv").read_bytes().decode("utf-8-sig")
    return {row["student"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}


def test_interrupted_batch_writes_what_it_graded_marked_incomplete(tmp_path: Path, dense_toml: Path) -> None:
    class_dir = tmp_path / "class"
    for name in ("a", "b", "c"):
        write_tree(class_dir / name, {"cs231n/layers.py": CORRECT_VECTORISED})
    out = tmp_path / "out"
    executor = InterruptedAfter(1)
    with pytest.raises(BatchInterrupted) as raised:
        run_batch(class_dir, out, BatchOptions(assignment=str(dense_toml), profile="quick"), executor=executor,
                  progress=make_progress(quiet=True))
    result = raised.value.result
    assert result.interrupted and not result.complete
    assert [(o.entry, o.status) for o in result.outcomes] == [("a", "graded"), ("b", "pending"), ("c", "pending")]

    rows = gradebook(out)
    assert (rows["a"]["status"], rows["a"]["total"], rows["a"]["reason"]) == ("graded", "7", "")
    for name in ("b", "c"):
        assert (rows[name]["status"], rows[name]["total"]) == ("pending", "")
        assert "interrupted" in rows[name]["reason"] and "--resume" in rows[name]["reason"]
    records = [json.loads(line) for line in (out / "gradebook.jsonl").read_text().splitlines()]
    assert [(r["student"], r["status"], r["complete"]) for r in records] == [
        ("a", "graded", False), ("b", "pending", False), ("c", "pending", False)]
    summary = (out / "summary.html").read_text()
    assert "Incomplete" in summary and "2 of 3 entries were not graded" in summary

    resumed = run_batch(class_dir, out, BatchOptions(assignment=str(dense_toml), profile="quick", resume=True,
                                                     jobs=1), progress=make_progress(quiet=True))
    assert resumed.complete and sorted(resumed.graded) == ["b", "c"]
    assert {row["status"] for row in gradebook(out).values()} == {"graded"}
    assert "Incomplete" not in (out / "summary.html").read_text()


def _poll(condition: object, what: str, limit_s: float = 300.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_sigint_on_the_cli_exits_130_with_a_gradebook(tmp_path: Path, dense_toml: Path) -> None:
    """A real Ctrl-C: SIGINT to ``nngrade batch`` while its second entry hangs at import."""
    class_dir = tmp_path / "class"
    write_tree(class_dir, {"a_fine/cs231n/layers.py": CORRECT_VECTORISED, "b_hangs/cs231n/layers.py": HANGS_AT_IMPORT})
    out, log = tmp_path / "out", tmp_path / "graded.log"
    env = dict(os.environ, **{BATCH_LOG_VARIABLE: str(log)})
    args = [sys.executable, "-m", "graders", "batch", str(class_dir), "--out", str(out), "--assignment",
            str(dense_toml), "--profile", "quick", "--jobs", "1", "--entry-timeout", "300"]
    with subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as batch:
        try:
            _poll(lambda: (log.exists() and log.read_text()) or batch.poll() is not None, "the first graded entry")
            assert batch.poll() is None, "the batch ended before it could be interrupted"
            batch.send_signal(signal.SIGINT)
            _, stderr = batch.communicate(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                batch.kill()
    assert batch.returncode == 130, stderr
    assert "marked incomplete" in stderr and "gradebook.csv" in stderr
    rows = gradebook(out)
    assert rows["a_fine"]["status"] == "graded" and rows["b_hangs"]["status"] == "pending"
    assert "Incomplete" in (out / "summary.html").read_text()
