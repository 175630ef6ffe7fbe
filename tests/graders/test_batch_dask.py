"""``nngrade batch --scheduler``: the class graded on a Dask ``LocalCluster`` (loopback only) must give the same
gradebook and reports as the local workers' reference run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from graders.batch import DaskExecutor, ExecutorError
from tests.graders.test_batch import Reference, nngrade, reference, reports  # noqa: F401  (fixture)

distributed = pytest.importorskip("distributed")


def test_dask_executor_gives_the_local_executors_results(reference: Reference, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        result = nngrade("batch", str(reference.class_dir), "--out", str(out), "--profile", "quick",
                         "--scheduler", cluster.scheduler_address)
    assert result.returncode == 0, result.stderr
    assert "Dask scheduler tcp://127.0.0.1:" in result.stdout
    assert (out / "gradebook.csv").read_bytes() == (reference.out / "gradebook.csv").read_bytes()
    assert reports(out) == reports(reference.out)


def test_unreachable_scheduler_is_refused_before_grading() -> None:
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=1.0)
