"""Lazy torch for the specs' torch adapters (tests only: the grader's trusted core never imports torch)."""

from __future__ import annotations

from typing import Any


def torch_one_thread() -> Any:
    """torch, imported on first use and limited to one intra-op thread.

    Measured on the 2-core test machine under load: F.batch_norm on a (200, 3) float64 batch took ~120 ms
    with 2 threads (they wait on each other) and 25 us with one. The tests already run one process per core
    (pytest-xdist), so a second thread per process only adds contention.
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return torch
