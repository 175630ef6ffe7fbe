"""The registry's vocabulary: one ``Spec`` per gradable function (after PyTorch's OpInfo).

A spec is declared once and used twice:
  * tests of the reference: ``expected`` vs ``torch_expected`` (allclose with each check's tolerances) and the
    analytic gradients in ``expected`` vs central finite differences (``gradients``), over ``cases`` and
    ``fixed_cases``;
  * grading a student: the worker runs ``program(case)`` against the student's modules, and each ``Check``
    compares the fetched outputs with ``expected(case)`` (or judges them with a custom rule).

Cases are plain dicts of named inputs (NumPy arrays, Python scalars, dicts of those) so they can cross the
process boundary as ``.npy`` bytes and JSON, and be written into a counterexample's repro snippet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.specs.program import Program

Case = dict[str, Any]
Outputs = Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one case."""

    passed: bool
    message: str = ""
    #: 2-D map of where an array differs (e.g. max |dx - expected| over N and C), for the report's heat map.
    where: list[list[float]] | None = None
    where_label: str = ""


#: A custom comparison: (case, student outputs, reference outputs, check) -> Verdict.
CompareFn = Callable[[Case, Outputs, Outputs, "Check"], Verdict]


@dataclass(frozen=True)
class Check:
    """One graded property of a function, worth ``points`` (the assignment may override the points).

    By default a check compares the student's output ``outputs[0]`` (and any further names) with the
    reference's, allclose-style with an explicit ``atol``/``rtol``. ``compare`` replaces that rule for checks
    that are not equalities (dropout's keep rate, same output for the same seed, ...).
    """

    name: str
    outputs: tuple[str, ...] = ()
    atol: float = 1e-8
    rtol: float = 1e-6
    points: float = 1.0
    compare: CompareFn | None = None
    #: Also accept float32 results judged at float32 tolerances (assignments that allow float32).
    description: str = ""

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)


@dataclass(frozen=True)
class GradientCheck:
    """Reference self-test: ``expected(case)[output]`` must equal d scalar(case) / d case[wrt]."""

    output: str
    wrt: str
    scalar: Callable[[Case], float]
    atol: float = 1e-7
    rtol: float = 1e-5


@dataclass(frozen=True)
class CaseRun:
    """Everything the grader saw for one case: the evidence diagnoses are drawn from."""

    case: Case
    actual: Outputs
    expected: Outputs
    verdicts: Mapping[str, Verdict]
    error: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """A known bug pattern: a plain sentence for the student and a detector over the evidence.

    ``applies`` sees every case run of the function (passing and failing), so it can say things like
    "fails only when pad = 0" or "dx is wrong only at the padded border".
    """

    name: str
    sentence: str
    applies: Callable[[Sequence[CaseRun]], bool]


Api = Literal["function", "class"]


@dataclass(frozen=True)
class Spec:
    """One gradable function or class, declared once for both the reference tests and the grader."""

    name: str
    #: Module key the function lives in (the assignment maps keys to files): "layers", "layer_utils", ...
    module: str
    api: Api
    cases: Callable[[], st.SearchStrategy[Case]]
    program: Callable[[Case], Program]
    expected: Callable[[Case], dict[str, Any]]
    checks: tuple[Check, ...]
    fixed_cases: Callable[[], list[Case]] = lambda: []
    torch_expected: Callable[[Case], dict[str, Any]] | None = None
    gradients: tuple[GradientCheck, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    describe: Callable[[Case], str] | None = None
    #: Names of other specs whose code this one runs first (a backward needs its forward's cache).
    depends_on: tuple[str, ...] = ()
    #: Names of student functions this one may call internally (sandwiches call layers); informative.
    convention: str = ""
    #: Another spec computing the same function (fast vs naive, backward_alt vs backward): tests compare them.
    same_as: str | None = None
    #: Case inputs that a correct implementation must not modify (a mutation is a warning, not a failure).
    read_only: tuple[str, ...] = ()
    #: Inputs whose float32 version must give float32 results ("float32 in gives float32 out").
    dtype_preserving: bool = False
    #: At most this many property cases whatever the profile: for functions whose cases are expensive and whose
    #: checks are statistical over one large case (dropout on 40,000 entries) rather than about geometry.
    max_examples: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no check {name!r}")


def describe_case(case: Case) -> str:
    """Default one-line description of a case: array shapes and scalar parameters."""
    parts = []
    for key, value in case.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {tuple(value.shape)}")
        elif isinstance(value, dict):
            inner = ", ".join(f"{k}={v!r}" for k, v in value.items() if not isinstance(v, np.ndarray))
            parts.append(f"{key} {{{inner}}}")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)
