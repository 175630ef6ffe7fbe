"""The case bank: each function's cases and the reference's answers, computed once and replayed for every
submission graded with the same assignment, seed, profile and grader code.

WHY: drawing hypothesis cases (~2 ms each) and computing the reference (~1 ms) cost more than running most
students' code, and every student of a class paid them again for the same seed. The property cases a
hypothesis run draws while every case passes depend only on the seed and the strategy, never on the code under
test, so they can be drawn once without any student (by :func:`record_property_cases`, with exactly the settings
the live run uses) and replayed. A function that fails a replayed case is graded live, as before, so that the
shrinking (and so the counterexample) is the same: same seed, same report, bank or no bank.

Storage: one file per (function, key) under the user's cache folder (``NNGRADE_CASE_BANK`` overrides it), in a
folder per version of the grader's code (old versions are removed: graders/casebank_versions.py), in the
worker protocol's own format (a JSON header and ``.npy`` blobs, read back without pickle), written atomically.
The key covers the assignment's definition, the spec, the seed, the profile, NumPy's version and a hash of the
grader's and the reference's source, so a changed spec or reference changes the key. The sandbox worker never
sees the folder (it is outside everything Landlock or bubblewrap lets it read).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.strategies import SearchStrategy

import graders
from graders import courses
from graders.casebank_versions import open_version, version_folder
from graders.sandbox.wire import HEADER, WireError, decode_reply_value, encode_value, uninitialised
from graders.specs.base import Case, Spec

FORMAT = 3
#: Each array's bytes start at a multiple of this in a bank file (NumPy's own .npy alignment).
BLOB_ALIGN = 64
ENV_VARIABLE = "NNGRADE_CASE_BANK"
#: Largest bank file read back (a dropout function's cases are tens of MB).
MAX_FILE_BYTES = 1 << 30


def engine_settings(max_examples: int) -> settings:
    """The hypothesis settings of a grading run's property tier (the live run and the recording share them, so
    that both draw the same cases from the same seed). Also keeps hypothesis's own files out of the caller's
    folder (:func:`keep_hypothesis_storage_private`)."""
    keep_hypothesis_storage_private()
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def keep_hypothesis_storage_private() -> None:
    """Point hypothesis's storage folder at nngrade's cache, unless ``HYPOTHESIS_STORAGE_DIRECTORY`` names one.

    WHY: grading keeps no example database, but hypothesis still caches what it learns about the running code
    (``.hypothesis/constants``) under ``.hypothesis/`` in the folder the process *started* in, which for
    ``nngrade check`` or the pytest plugin is the student's working copy, and for a batch may be the class
    folder. Grading must leave no file there."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    bank = bank_folder()
    set_hypothesis_home_dir(bank.with_name(bank.name + "-hypothesis"))


def property_examples(spec: Spec, profile: dict[str, int]) -> int:
    """How many property cases the profile draws (the same for every spec: a spec whose checks need large
    arrays puts those in its notebook and scale tiers)."""
    return profile["max_examples"]


def record_property_cases(strategy: SearchStrategy[Case], max_examples: int, seed: int) -> list[Case]:
    """The cases a grading run draws, in order, when every one passes."""
    found: list[Case] = []

    @engine_settings(max_examples)
    @hypothesis_seed(seed)
    @given(strategy)
    def record(case: Case) -> None:
        found.append(copy.deepcopy(case))

    record()
    return found


def build_banked(spec: Spec, profile: dict[str, int], seed: int,
                 expected_for: Callable[[Case], dict[str, Any]]) -> Banked:
    """A function's bank entry: the property cases a passing run draws, the deterministic tiers, and the
    reference's answers (``expected_for``) for every tier and robustness check. Needs no submission."""
    recorded = record_property_cases(spec.cases(), property_examples(spec, profile), seed)
    tiers = {"fixed": spec.fixed_cases(), "property": recorded, "scale": spec.scale_cases()}
    tiers.update({r.check_name: r.cases() for r in spec.robustness if r.cases is not None})
    return Banked(cases={tier: tiers[tier] for tier in ("fixed", "property", "scale")},
                  expected={tier: [expected_for(c) for c in cases] for tier, cases in tiers.items()})


@functools.cache
def code_fingerprint() -> str:
    """A hash of the grader's, the reference's and the course sources' Python code, and of NumPy's version."""
    digest = hashlib.sha256(np.__version__.encode())
    root = Path(graders.__file__).resolve().parents[1]
    for package in ("graders", "reference"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    for path in courses.source_files():  # a course's own specs (graders/courses.py)
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def bank_folder() -> Path:
    configured = os.environ.get(ENV_VARIABLE)
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("nngrade")) / "cases"


@dataclass
class Banked:
    """One function's cases and answers: ``cases[tier]`` and ``expected[tier]`` are parallel lists. Tiers:
    "property" (the recorded hypothesis cases), "fixed" and "scale" (the spec's deterministic tiers, stored
    because reading them back is cheaper than drawing their large arrays again) and "robust:<name>" (built by
    the spec, small; only their answers are stored)."""

    cases: dict[str, list[Case]] = field(default_factory=dict)
    expected: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class CaseBank:
    """The bank of one grading configuration (assignment definition, seed, profile)."""

    def __init__(self, assignment_fingerprint: str, seed: int, profile: str, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else bank_folder()
        self.code = code_fingerprint()
        self.base = {"format": FORMAT, "assignment": assignment_fingerprint, "seed": seed, "profile": profile,
                     "code": self.code}
        open_version(self.folder, self.code)  # marks it used, removes old versions (casebank_versions.py)
        self.hits = 0
        self.misses = 0
        #: spec name -> the bank file being read ahead (see prefetch)
        self._ahead: dict[str, Future[Banked | None]] = {}
        #: spec name -> what peek() read, for get() to return without reading it again
        self._peeked: dict[str, Banked] = {}
        self._reader: ThreadPoolExecutor | None = None

    def prefetch(self, specs: list[Spec]) -> None:
        """Start reading these specs' bank files, in order, on a thread of their own: decoding them takes the
        grader a few milliseconds a function, and the first ones are read while the sandbox's fork server
        starts (a tenth of a second in which the grading threads only wait). Call close() when done."""
        if self._reader is None:
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nngrade-bank")
        for spec in specs:
            if spec.name not in self._ahead:
                self._ahead[spec.name] = self._reader.submit(read, self.path(spec))

    def close(self) -> None:
        """Stop reading ahead (what was read and not used is dropped)."""
        if self._reader is not None:
            for pending in self._ahead.values():
                pending.cancel()
            self._reader.shutdown(wait=True)
            self._reader = None
        self._ahead.clear()
        self._peeked.clear()

    def __enter__(self) -> CaseBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def path(self, spec: Spec) -> Path:
        key = json.dumps({**self.base, "spec": spec.name}, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()
        return version_folder(self.folder, self.code) / digest[:2] / f"{digest}.bank"

    def peek(self, spec: Spec) -> Banked | None:
        """The spec's banked cases if the bank has them, never built here; get() then returns the same."""
        found = self._peeked.get(spec.name) or self._read(spec)
        if found is not None:
            self._peeked[spec.name] = found
        return found

    def get(self, spec: Spec, build: Callable[[], Banked]) -> Banked:
        """The spec's banked cases, built with ``build`` (and stored) when absent or unreadable."""
        found = self._peeked.pop(spec.name, None) or self._read(spec)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        banked = build()
        write(self.path(spec), banked)
        return banked

    def _read(self, spec: Spec) -> Banked | None:
        ahead = self._ahead.pop(spec.name, None)
        return ahead.result() if ahead is not None else read(self.path(spec))


def read(path: Path) -> Banked | None:
    """A bank file, or None when it is missing, truncated or not ours (then it is simply rebuilt).

    The file is read once into a writable buffer and its arrays are views of it: each its own aligned stretch
    of the buffer (see :func:`write`), writable like a drawn case's, nothing copied again (a function's bank
    holds up to tens of MB, read for every submission)."""
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_FILE_BYTES or size < HEADER.size:
                return None
            view = uninitialised(size)
            if stream.readinto(view) != size:
                return None
    except OSError:
        return None
    try:
        (length,) = HEADER.unpack_from(view)
        header = json.loads(bytes(view[HEADER.size:HEADER.size + length]))
        blobs, offset = [], HEADER.size + length
        for blob_size in header["blob_sizes"]:
            offset = _aligned(offset)
            if type(blob_size) is not int or blob_size < 0 or offset + blob_size > size:
                return None
            blobs.append(view[offset:offset + blob_size])
            offset += blob_size
        body = decode_reply_value(header["bank"], blobs, MAX_FILE_BYTES)
        return Banked(cases={k: [_own_arrays(c) for c in v] for k, v in body["cases"].items()},
                      expected={k: list(v) for k, v in body["expected"].items()})
    except (ValueError, KeyError, TypeError, WireError, struct.error, RecursionError):
        return None


def _aligned(offset: int) -> int:
    return -(-offset // BLOB_ALIGN) * BLOB_ALIGN


def _own_arrays(value: Any) -> Any:
    """A case as read, except an array that is not aligned in memory (where the buffer itself is not), which is
    copied: a case must behave like a drawn one."""
    if isinstance(value, np.ndarray):
        return value if value.flags.aligned else value.copy()
    if isinstance(value, dict):
        return {k: _own_arrays(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_own_arrays(v) for v in value)
    return value


def write(path: Path, banked: Banked) -> None:
    """Write atomically (a temporary file renamed into place): concurrent graders never see half a file. A
    bank that cannot be written only costs speed. Layout: the length of a JSON header, the header, then each
    array's ``.npy`` bytes starting at a multiple of BLOB_ALIGN from the start of the file (so the arrays read
    back as views are aligned as NumPy aligns its own)."""
    blobs: list[bytes] = []
    body = encode_value({"cases": banked.cases, "expected": banked.expected}, blobs)
    try:
        header = json.dumps({"bank": body, "blob_sizes": [len(b) for b in blobs]}).encode()
        parts = [HEADER.pack(len(header)), header]
        offset = HEADER.size + len(header)
        for blob in blobs:
            parts += [bytes(_aligned(offset) - offset), blob]
            offset = _aligned(offset) + len(blob)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(b"".join(parts))
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError):  # a read-only cache, or an answer JSON cannot hold
        return
