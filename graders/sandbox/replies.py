"""Schema checks of the worker's replies: every field the parent reads, with its type and bounds.

WHY: a reply is written by a process that runs student code, so any byte of it may be forged (the student can
write frames to the reply pipe, or rewrite the worker's own code). The parent reads replies only through these
functions; whatever does not fit raises :class:`~graders.sandbox.wire.WireError`, which the session turns into
the function's ``crashed`` status. Strings are truncated, lists capped, unknown keys ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graders.sandbox.wire import WireError

MAX_TEXT = 8000
MAX_NAMES = 5000
MAX_LIST = 64


def text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise WireError(f"{field} is not a string")
    return value[:limit]


def optional_text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    return "" if value is None else text(value, field, limit)


def texts(value: Any, field: str, limit: int = MAX_LIST, each: int = 200) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WireError(f"{field} is not a list of strings")
    return [v[:each] for v in value[:limit]]


def mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{field} is not an object")
    return value


def number(value: Any, field: str) -> float:
    if type(value) not in (int, float):
        raise WireError(f"{field} is not a number")
    return float(value)


def hello(reply: Any) -> dict[str, Any]:
    """{"python": str, "numpy": str, "layers": {name: True | reason}}"""
    reply = mapping(reply, "the hello reply")
    found = mapping(reply.get("layers", {}), "layers")
    applied: dict[str, Any] = {}
    for name in ("landlock", "seccomp"):
        if name in found:
            outcome = found[name]
            applied[name] = True if outcome is True else optional_text(outcome, f"layers.{name}", 500) or "refused"
    return {"python": optional_text(reply.get("python"), "python", 40),
            "numpy": optional_text(reply.get("numpy"), "numpy", 40), "layers": applied}


def load(reply: Any, requested: Mapping[str, str]) -> dict[str, Any]:
    """{"modules": {key: {"ok": bool, "names": [str], "error": str, "type": str, "forbidden": [str],
    "cell_errors": [[int, str]]}},
    "forbidden": [str], "stand_ins": [str]}; keys the parent did not ask for are dropped."""
    reply = mapping(reply, "the load reply")
    modules = mapping(reply.get("modules", {}), "modules")
    checked: dict[str, dict[str, Any]] = {}
    for key in requested:
        if key not in modules:
            continue
        info = mapping(modules[key], f"modules.{key}")
        ok = info.get("ok")
        if not isinstance(ok, bool):
            raise WireError(f"modules.{key}.ok is not a boolean")
        checked[key] = {
            "ok": ok,
            "names": texts(info.get("names"), f"modules.{key}.names", MAX_NAMES),
            "error": optional_text(info.get("error"), f"modules.{key}.error"),
            "type": optional_text(info.get("type"), f"modules.{key}.type", 100),
            "forbidden": texts(info.get("forbidden"), f"modules.{key}.forbidden"),
            "cell_errors": cell_errors(info.get("cell_errors"), f"modules.{key}.cell_errors"),
        }
    return {"modules": checked, "forbidden": texts(reply.get("forbidden"), "forbidden"),
            "stand_ins": texts(reply.get("stand_ins"), "stand_ins")}


#: At most this many failing notebook cells are reported per module.
MAX_CELL_ERRORS = 20


def cell_errors(value: Any, where: str) -> list[tuple[int, str]]:
    """[[cell number, error text], ...] of a notebook's cells that raised at import; absent means none."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_CELL_ERRORS:
        raise WireError(f"{where} is not a short list")
    checked = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is int and 0 < item[0] < 10**6):
            raise WireError(f"{where} holds something other than [cell, error] pairs")
        checked.append((item[0], optional_text(item[1], where, 300)))
    return checked


def run_error(value: Any) -> dict[str, str] | None:
    """A step's error as the interpreter reports it: {"step", "type", "message", "traceback"}."""
    if value is None:
        return None
    error = mapping(value, "error")
    return {
        "step": optional_text(error.get("step"), "error.step", 100),
        "type": optional_text(error.get("type"), "error.type", 100) or "Error",
        "message": optional_text(error.get("message"), "error.message", 2000),
        "traceback": optional_text(error.get("traceback"), "error.traceback"),
    }


def run(reply: Any) -> dict[str, Any]:
    """The fields of a ``run`` reply other than the encoded values (decoded by the caller with wire's bounded
    decoder): {"outputs": dict | None, "error": dict | None, "inputs_after": dict (the inputs asked back that
    did not come back byte for byte as sent), "student_s": float,
    "forbidden": [str], "tainted": [str], "stand_ins": [str]}."""
    reply = mapping(reply, "the run reply")
    error = run_error(reply.get("error"))
    outputs = reply.get("outputs")
    if outputs is not None:
        outputs = mapping(outputs, "outputs")
    elif error is None:
        raise WireError("a run reply with neither outputs nor an error")
    after = reply.get("inputs_after") or {}
    if after:
        after = mapping(after, "inputs_after")
    student_s = number(reply.get("student_s", 0.0), "student_s")
    return {
        "outputs": outputs,
        "error": error,
        "inputs_after": after,
        "student_s": max(0.0, student_s),
        "forbidden": texts(reply.get("forbidden"), "forbidden", 10),
        "tainted": texts(reply.get("tainted"), "tainted", 10),
        "stand_ins": texts(reply.get("stand_ins"), "stand_ins", 10),
    }
