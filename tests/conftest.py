"""Shared pytest configuration: hypothesis profiles and the MNIST location.

Profiles (select with HYPOTHESIS_PROFILE or ``--hypothesis-profile``):
  dev   few examples, fast feedback while editing;
  ci    the default: enough examples to find real bugs, derandomized so CI is reproducible;
  grade the grader's own settings when a test replays a grading run.
No profile writes an example database: tests must not leave files in the tree or in a submission folder.
"""

from __future__ import annotations

import os

# One BLAS thread per test process: xdist already runs a process per core, and oversubscribed OpenBLAS
# threads made the suite about 20 times slower on 2 cores. Must happen before NumPy is first imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
# The case bank (graders/casebank.py) of a test run lives in a folder of its own, shared by the xdist workers and
# the subprocesses they start (they inherit the variable), never the user's cache, and removed when the run ends
# (pytest_unconfigure): each run's bank is about a gigabyte, and /tmp kept every one.
_OWN_CASE_BANK: str | None = None
if "NNGRADE_CASE_BANK" not in os.environ:
    import tempfile as _tempfile

    _OWN_CASE_BANK = _tempfile.mkdtemp(prefix="nngrade-test-cases-")
    os.environ["NNGRADE_CASE_BANK"] = os.path.join(_OWN_CASE_BANK, "bank")
from pathlib import Path  # noqa: E402 (after the BLAS settings)

import pytest  # noqa: E402 (after the BLAS settings)
from hypothesis import HealthCheck, settings  # noqa: E402 (after the BLAS settings)

_COMMON = dict(
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("dev", max_examples=10, **_COMMON)
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("grade", max_examples=25, derandomize=True, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

try:  # torch adapters: one intra-op thread per xdist worker (batch_norm took ~120 ms a call with two under load)
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is a test extra; the reference itself never needs it
    pass

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST IDX files shipped beside the repository (../shared/mnist), or skip with the reason."""
    candidate = Path(os.environ.get("NNGRADE_MNIST_DIR", SHARED_MNIST))
    if not (candidate / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found in {candidate} (set NNGRADE_MNIST_DIR)")
    return candidate


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's case bank (and hypothesis's folder beside it) goes with the process that made it: the xdist
    controller, or pytest itself without xdist (the workers found the variable set and made none)."""
    if _OWN_CASE_BANK is not None:
        import shutil

        shutil.rmtree(_OWN_CASE_BANK, ignore_errors=True)
