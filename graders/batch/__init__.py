"""Class-scale grading (``nngrade batch``): every entry of a class folder graded into its own report folder,
a gradebook and a class summary, in parallel on local workers or a Dask cluster, resumable after a kill.

Public API::

    run_batch(class_dir, out_dir, BatchOptions(...), executor=None, progress=None) -> BatchResult
    discover(class_dir) -> Discovery(entries=[Entry(name, path)], ignored=[...])
    content_hash(path) -> "sha256:..."
    LocalExecutor(jobs, entry_timeout_s), DaskExecutor(address, entry_timeout_s)   # the Executor protocol
    gradebook_csv(function_names, max_score, outcomes) -> bytes

Modules: discover (entries and their names), hashing (what --resume compares), task (one entry's work as
JSON in / JSON out), worker (grading worker subprocesses), executors, store (output folder, manifests,
lock), run (the loop), gradebook, summary, progress.
"""

from __future__ import annotations

from graders.batch.discover import ClassFolderError, Discovery, Entry, discover
from graders.batch.executors import DaskExecutor, Executor, ExecutorError, LocalExecutor
from graders.batch.gradebook import gradebook_csv
from graders.batch.hashing import content_hash
from graders.batch.outcome import EntryOutcome
from graders.batch.run import BATCH_LOG_VARIABLE, BatchOptions, BatchResult, default_jobs, run_batch
from graders.batch.store import OutputLocked

__all__ = [
    "BATCH_LOG_VARIABLE",
    "BatchOptions",
    "BatchResult",
    "ClassFolderError",
    "DaskExecutor",
    "Discovery",
    "Entry",
    "EntryOutcome",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "OutputLocked",
    "content_hash",
    "default_jobs",
    "discover",
    "gradebook_csv",
    "run_batch",
]
