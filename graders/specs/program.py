"""A tiny call language that says what the sandbox worker runs for one case.

Why a language and not callables: the trusted process never imports or calls student code, so it can only
*describe* calls. The worker (a separate process) interprets the description against the student's modules,
keeps whatever the student returns (caches, layer instances) behind names on its side, and sends back only the
values named in ``Program.outputs`` as plain arrays and JSON scalars.

Expressions:
  Input("x")            a case input, materialised once per run in the worker (the same object for every step,
                        so a dict such as ``bn_param`` mutated by one call is seen by the next, as in a notebook)
  Func("layers", "f")   an attribute of a student module (the module key is resolved by the assignment)
  Result("fwd")         the value returned by the step with that id
  Item(e, 0) / Attr(e, "dW")   indexing and attribute access
  Slice(e, 0, 64)       ``e[0:64]``, to fetch part of a large result
  Const(v)              a JSON literal
  Pack(e1, e2, ...)     a tuple of values: a cache built the way the hand-out builds it, e.g. (x, w, b)
Steps:
  Call(id, fn, args, kwargs)    call ``fn`` (any expression: a function, a class, a bound method via Attr);
                                ``setup=True`` marks a call of another graded function (the forward whose
                                cache a backward needs): when it raises, the case says nothing about the
                                function being graded
  Assign(target, value)         ``target[...] = value``: in-place write (e.g. set a network's parameters
                                without breaking the layers that hold references to the same arrays)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Input:
    name: str


@dataclass(frozen=True)
class Func:
    module: str
    name: str


@dataclass(frozen=True)
class Result:
    step: str


@dataclass(frozen=True)
class Item:
    of: Expr
    key: int | str


@dataclass(frozen=True)
class Attr:
    of: Expr
    name: str


@dataclass(frozen=True)
class Slice:
    """``of[start:stop]`` along the first axis: fetch a part of a large result (e.g. 64 of 60,000 images)."""

    of: Expr
    start: int | None
    stop: int | None


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Pack:
    items: tuple[Expr, ...]


Expr = Input | Func | Result | Item | Attr | Slice | Const | Pack


@dataclass(frozen=True)
class Call:
    id: str
    fn: Expr
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()
    #: a call of another graded function (see the module docstring); not sent to the worker
    setup: bool = False


@dataclass(frozen=True)
class Assign:
    target: Expr
    value: Expr


Step = Call | Assign


@dataclass(frozen=True)
class Program:
    """Steps to run in order, and the values to fetch back afterwards, by output name."""

    steps: tuple[Step, ...]
    outputs: Mapping[str, Expr] = field(default_factory=dict)


def call(id: str, module: str, name: str, *args: Expr, **kwargs: Expr) -> Call:
    """Shorthand for calling a student function ``module.name`` with expressions as arguments."""
    return Call(id, Func(module, name), tuple(args), tuple(kwargs.items()))


def method(id: str, obj: Expr, name: str, *args: Expr, **kwargs: Expr) -> Call:
    """Shorthand for calling a method of an object that lives in the worker."""
    return Call(id, Attr(obj, name), tuple(args), tuple(kwargs.items()))


def inputs(*names: str) -> tuple[Input, ...]:
    return tuple(Input(n) for n in names)


def as_setup(step: Call) -> Call:
    """``step`` marked as a call of another graded function (a forward a backward depends on)."""
    return Call(step.id, step.fn, step.args, step.kwargs, setup=True)


def setup_steps(program: Program) -> dict[str, str]:
    """The program's setup calls: step id -> the name of the function it calls."""
    return {s.id: callee_name(s.fn) for s in program.steps if isinstance(s, Call) and s.setup}


def callee_name(fn: Expr) -> str:
    """A readable name for what a call calls: ``affine_forward``, ``forward``."""
    if isinstance(fn, Func):
        return fn.name
    if isinstance(fn, Attr):
        return fn.name
    return "a call"


def renamed(program: Program, suffix: str) -> Program:
    """``program`` with every step id, input name and output name suffixed: several copies of one program
    (e.g. a forward on each perturbed input of a finite-difference gradient) then run as one request."""

    def expr(e: Any) -> Any:
        if isinstance(e, Input):
            return Input(e.name + suffix)
        if isinstance(e, Result):
            return Result(e.step + suffix)
        if isinstance(e, Item):
            return Item(expr(e.of), e.key)
        if isinstance(e, Attr):
            return Attr(expr(e.of), e.name)
        if isinstance(e, Slice):
            return Slice(expr(e.of), e.start, e.stop)
        if isinstance(e, Pack):
            return Pack(tuple(expr(i) for i in e.items))
        return e

    steps: list[Step] = []
    for step in program.steps:
        if isinstance(step, Call):
            steps.append(Call(step.id + suffix, expr(step.fn), tuple(expr(a) for a in step.args),
                              tuple((k, expr(v)) for k, v in step.kwargs), step.setup))
        else:
            steps.append(Assign(expr(step.target), expr(step.value)))
    return Program(tuple(steps), {name + suffix: expr(e) for name, e in program.outputs.items()})


def merged(programs: list[Program]) -> Program:
    """One program running ``programs`` in order (their ids and names must not clash: see :func:`renamed`)."""
    steps: list[Step] = []
    outputs: dict[str, Expr] = {}
    for program in programs:
        steps += program.steps
        outputs.update(program.outputs)
    return Program(tuple(steps), outputs)


def to_json(node: Any) -> Any:
    """Encode a program or expression as JSON-ready data (the worker's wire format)."""
    encode = _JSON.get(type(node))
    if encode is None:
        raise TypeError(f"not a program node: {node!r}")
    return encode(node)


#: node type -> its JSON form (a table rather than a chain of isinstance tests: a grading run encodes some
#: thirty thousand nodes)
_JSON: dict[type, Callable[[Any], Any]] = {
    Program: lambda n: {"steps": [to_json(s) for s in n.steps],
                        "outputs": {k: to_json(v) for k, v in n.outputs.items()}},
    Call: lambda n: {"op": "call", "id": n.id, "fn": to_json(n.fn), "args": [to_json(a) for a in n.args],
                     "kwargs": {k: to_json(v) for k, v in n.kwargs}},
    Assign: lambda n: {"op": "assign", "target": to_json(n.target), "value": to_json(n.value)},
    Input: lambda n: {"e": "input", "name": n.name},
    Func: lambda n: {"e": "func", "module": n.module, "name": n.name},
    Result: lambda n: {"e": "result", "step": n.step},
    Item: lambda n: {"e": "item", "of": to_json(n.of), "key": n.key},
    Attr: lambda n: {"e": "attr", "of": to_json(n.of), "name": n.name},
    Slice: lambda n: {"e": "slice", "of": to_json(n.of), "start": n.start, "stop": n.stop},
    Const: lambda n: {"e": "const", "value": n.value},
    Pack: lambda n: {"e": "pack", "items": [to_json(i) for i in n.items]},
}


def expressions(program: Program) -> list[Any]:
    """Every expression a program's steps and outputs contain, nested ones included."""
    found: list[Any] = []

    def visit(e: Any) -> None:
        found.append(e)
        if isinstance(e, (Item, Attr, Slice)):
            visit(e.of)
        elif isinstance(e, Pack):
            for item in e.items:
                visit(item)

    for step in program.steps:
        if isinstance(step, Call):
            visit(step.fn)
            for a in step.args:
                visit(a)
            for _, v in step.kwargs:
                visit(v)
        else:
            visit(step.target)
            visit(step.value)
    for output in program.outputs.values():
        visit(output)
    return found


def functions_called(program: Program) -> set[tuple[str, str]]:
    """The student functions a program needs, so a missing one can be reported before running anything."""
    return {(e.module, e.name) for e in expressions(program) if isinstance(e, Func)}


def inputs_used(program: Program) -> set[str]:
    """The case inputs a program reads (a repro script defines only these)."""
    return {e.name for e in expressions(program) if isinstance(e, Input)}
