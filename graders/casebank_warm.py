"""Filling the case bank before any submission arrives.

WHY: the bank is built by the first submission graded with an assignment, seed and profile, and replayed for
every later one. Where each submission is graded on a fresh machine, there is no later one: Gradescope starts
every submission from the image its setup.sh built, so every student paid the cold bank (2.4 s instead of
0.7 s for a complete cs231n-a2 submission on the standard profile, 7.8 s instead of 1.7 s on thorough).
The bundle's setup.sh therefore fills the bank into the image (``nngrade gradescope warm``). Building needs
only the reference, never a submission, and gives the same files the first grading would have written: same
key, same cases, same answers (tests/graders/test_gradescope_bundle.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from graders.assignment import Assignment, assignment_fingerprint
from graders.casebank import CaseBank, build_banked
from graders.evaluate import expected_outputs
from graders.grade import PROFILES


@dataclass
class Warmed:
    """What :func:`warm` did, per function."""

    built: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already banked
    failed: dict[str, str] = field(default_factory=dict)  # the reference could not answer (e.g. data missing)


def warm(assignment: Assignment, seed: int, profile: str) -> Warmed:
    """Bank every function the assignment grades for this seed and profile (those already banked are kept)."""
    done = Warmed()
    with CaseBank(assignment_fingerprint(assignment.data), seed, profile) as bank:
        for graded in assignment.functions:
            spec = graded.spec
            misses = bank.misses
            build = functools.partial(build_banked, spec, PROFILES[profile], seed,
                                      functools.partial(expected_outputs, spec))
            try:
                bank.get(spec, build)
            except Exception as exc:  # graded later as status environment, exactly as without the warm-up
                done.failed[spec.name] = f"{type(exc).__name__}: {exc}"
            else:
                (done.built if bank.misses > misses else done.present).append(spec.name)
    return done
