"""Run a spec's program against Python module objects in this process.

For tests only (and never for grading students: the grader's trusted process must not run student code).
It uses the worker's own interpreter and the same encode/decode path as the real sandbox, and the same second
chances for a backward (graders/backward.py), so a test's verdicts match what grading the same code would give.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from graders.backward import second_chances
from graders.evaluate import expected_outputs, judge
from graders.sandbox import worker_main
from graders.sandbox.session import RunReply
from graders.sandbox.wire import decode_reply_value
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.program import Program, setup_steps, to_json

MAX_BYTES = 1 << 30


def run_program(
    spec: Spec, case: Case, modules: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(outputs, None) or (partial outputs, error) for running spec.program(case) against ``modules``."""
    return execute(spec.program(case), case, modules)


def execute(program: Program, case: Case, modules: dict[str, Any]
            ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    interpreter = worker_main.Interpreter(modules)
    try:
        outputs = interpreter.run(to_json(program), copy.deepcopy(case))
    except worker_main.StepError as exc:
        error = {"step": exc.step, "type": type(exc.error).__name__, "message": str(exc.error)}
        return _round_trip(exc.partial), error
    except worker_main.OutputError as exc:
        return None, {"step": "outputs", "type": "OutputError", "message": str(exc)}
    return _round_trip(outputs), None


def _round_trip(outputs: dict[str, Any]) -> dict[str, Any]:
    """Encode and decode as the real wire does, so tests see exactly what grading would."""
    encoder = worker_main.Encoder()
    encoded = encoder.encode(outputs)["__dict__"]
    return {k: decode_reply_value(v, encoder.blobs, MAX_BYTES) for k, v in encoded.items()}


@dataclass
class _Outcome:
    student_s: float = 0.0


@dataclass
class _Session:
    modules: dict[str, Any]

    def run_program(self, program: Program, case: Case, expected: Any = None, return_inputs: tuple[str, ...] = (),
                    timeout: float | None = None) -> RunReply:
        outputs, error = execute(program, case, self.modules)
        return RunReply(outputs, error, {}, 0.0, [])


@dataclass
class InProcessGrader:
    """What graders/backward.py needs of a FunctionGrader, running the modules in this process."""

    spec: Spec
    session: _Session
    outcome: _Outcome = field(default_factory=_Outcome)


def run_case(spec: Spec, case: Case, modules: dict[str, Any]) -> CaseRun:
    program = spec.program(case)
    expected = expected_outputs(spec, case)
    actual, error = execute(program, case, modules)
    run = judge(spec, case, expected, actual, error, setup_steps(program))
    return second_chances(InProcessGrader(spec, _Session(modules)), run, case, expected, None)
