"""Run a spec's program against Python module objects in this process.

For tests only (and never for grading students: the grader's trusted process must not run student code).
It uses the worker's own interpreter and the same encode/decode path as the real sandbox, so a test's verdicts
match what grading the same code would give.
"""

from __future__ import annotations

import copy
from typing import Any

from graders.evaluate import expected_outputs, judge
from graders.sandbox import worker_main
from graders.sandbox.wire import decode_reply_value
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.program import to_json

MAX_BYTES = 1 << 30


def run_program(
    spec: Spec, case: Case, modules: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(outputs, None) or (None, error) for running spec.program(case) against ``modules``."""
    interpreter = worker_main.Interpreter(modules)
    try:
        outputs = interpreter.run(to_json(spec.program(case)), copy.deepcopy(case))
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


def run_case(spec: Spec, case: Case, modules: dict[str, Any]) -> CaseRun:
    actual, error = run_program(spec, case, modules)
    return judge(spec, case, expected_outputs(spec, case), actual, error)
