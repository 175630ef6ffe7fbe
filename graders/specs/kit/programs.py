"""Program builders every family uses: the student's calls for one case, written in the Program language.

Each builder returns a ``Spec.program`` (case -> Program), a ``Spec.handout_program`` or an ``OwnGradient``.
Forward and backward are separate gradable functions: a backward's program runs the student's own forward
first as a setup step (when it raises, the case says nothing about the backward) and hands its cache to the
student's backward. Where the hand-out's starter code fixes the cache (affine ``(x, w, b)``, ReLU ``x``, conv
``(x, w, b, conv_param)``, max-pool ``(x, pool_param)``), ``handout_backward`` calls the backward with that
cache built from the case, so a wrong or raising forward costs the backward nothing (see graders/backward.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graders.specs.base import Case, OwnGradient
from graders.specs.program import (
    Assign,
    Attr,
    Call,
    Const,
    Expr,
    Input,
    Item,
    Pack,
    Program,
    Result,
    as_setup,
    call,
    method,
)


# ---------------------------------------------------------------- cs231n-style functions
def forward_program(module: str, forward: str, *args: str) -> Callable[[Case], Program]:
    """Run ``module.forward(*args)`` and fetch ``out`` (the first element of the returned pair)."""

    def program(case: Case) -> Program:
        return Program(
            steps=(call("fwd", module, forward, *(Input(a) for a in args)),),
            outputs={"out": Item(Result("fwd"), 0)},
        )

    return program


def backward_program(
    module: str, forward: str, backward: str, args: tuple[str, ...], grads: tuple[str, ...]
) -> Callable[[Case], Program]:
    """Run the student's forward (a setup step), then their backward on ``dout`` and their own cache; fetch
    each gradient."""

    def program(case: Case) -> Program:
        steps = (
            as_setup(call("fwd", module, forward, *(Input(a) for a in args))),
            call("bwd", module, backward, Input("dout"), Item(Result("fwd"), 1)),
        )
        return Program(steps=steps, outputs=gradient_outputs(grads))

    return program


def gradient_outputs(grads: tuple[str, ...]) -> dict[str, Expr]:
    """The names of a backward's result: the result itself for one gradient, else its items in order."""
    if len(grads) == 1:
        return {grads[0]: Result("bwd")}
    return {g: Item(Result("bwd"), i) for i, g in enumerate(grads)}


def handout_backward(
    module: str, backward: str, cache: Callable[[], Expr], grads: tuple[str, ...]
) -> Callable[[Case], tuple[Program, Case]]:
    """A ``Spec.handout_program``: the student's backward on ``dout`` and the cache the hand-out's forward
    builds (``cache()``, e.g. ``Pack((x, w, b))``), with no forward call at all. Why: the cs231n starter code
    fixes that cache, so a backward given it is judged on what it computes, whatever the student's forward
    does (wrong values, or an exception)."""

    def program(case: Case) -> tuple[Program, Case]:
        steps = (call("bwd", module, backward, Input("dout"), cache()),)
        return Program(steps=steps, outputs=gradient_outputs(grads)), case

    return program


def packed(*names: str) -> Callable[[], Expr]:
    """A hand-out cache that is the tuple of these case inputs, in order: ``(x, w, b)``."""
    return lambda: Pack(tuple(Input(n) for n in names))


# ---------------------------------------------------------------- backward through the student's own cache
def own_cache_backward_program(
    module: str, forward: str, backward: str, args: tuple[str, ...], grads: tuple[str, ...]
) -> Callable[[Case], Program]:
    """The student's forward (a setup step), then their backward on ``dout`` and that forward's cache.

    Fetches the gradients and the forward's ``out``: OwnGradient compares that ``out`` with the reference's to
    decide whether the backward may be judged against the student's own forward.
    """

    def program(case: Case) -> Program:
        steps = (
            as_setup(call("fwd", module, forward, *(Input(a) for a in args))),
            call("bwd", module, backward, Input("dout"), Item(Result("fwd"), 1)),
        )
        outputs: dict[str, Expr] = {g: Item(Result("bwd"), i) for i, g in enumerate(grads)}
        outputs["out"] = Item(Result("fwd"), 0)
        return Program(steps=steps, outputs=outputs)

    return program


def own_forward_gradient(
    module: str, forward: str, args: tuple[str, ...], wrt: Mapping[str, str], max_entries: int = 400
) -> OwnGradient:
    """Judge the gradients ``wrt`` (gradient -> input) against central differences of the student's
    ``forward`` run on the case's ``args``."""
    return OwnGradient(forward=forward_program(module, forward, *args), wrt=dict(wrt), max_entries=max_entries)


# ---------------------------------------------------------------- the book's layer classes
def layer_program(cls: str, ctor: Sequence[Expr], forward_args: Sequence[Expr], attrs: Sequence[str] = ()) -> Program:
    """``layer = cls(*ctor)``; ``out = layer.forward(*forward_args)``; ``dx = layer.backward(dout)``; then
    fetch out, dx and each gradient attribute (``layer.dW``, ...)."""
    steps = (
        call("layer", "layers", cls, *ctor),
        method("fwd", Result("layer"), "forward", *forward_args),
        method("bwd", Result("layer"), "backward", Input("dout")),
    )
    outputs: dict[str, Expr] = {"out": Result("fwd"), "dx": Result("bwd")}
    outputs.update({a: Attr(Result("layer"), a) for a in attrs})
    return Program(steps=steps, outputs=outputs)


def layer_expected(make: Callable[[Case], Any], attrs: Sequence[str] = ()) -> Callable[[Case], dict[str, Any]]:
    """The reference layer's out, dx and gradient attributes on the case."""

    def expected(case: Case) -> dict[str, Any]:
        layer = make(case)
        out = layer.forward(case["x"])
        dx = layer.backward(case["dout"])
        return {"out": out, "dx": dx, **{a: getattr(layer, a) for a in attrs}}

    return expected


# ---------------------------------------------------------------- an optimizer's consecutive steps
def step_output(name: str, step: int) -> str:
    """The output holding ``name`` after step ``step`` (1-based): ``next_w`` for the first step, as the
    notebook names it, then ``next_w_2``, ``next_w_3``, ..."""
    return name if step == 1 else f"{name}_{step}"


#: The worker's support module (graders/sandbox/support/nngrade_support.py): its ``snapshot`` deep-copies a value.
SUPPORT_MODULE = "nngrade_support"


def stepping_program(
    module: str, fn: str, *, state: Sequence[str] = (), w: str = "w", grads: str = "dws", config: str = "config",
) -> Callable[[Case], Program]:
    """An update rule ``next_w, config = fn(w, dw, config)`` called once per gradient in ``case[grads]`` (a
    stack, one per step), each call given the previous call's next_w and config, as a training loop does
    (cs231n's ``Solver._step`` stores both and passes them back); the first call gets ``case[w]`` and
    ``case[config]`` (None: the rule fills in its defaults).

    After each step the program keeps a snapshot (a deep copy, by the worker's support module) of next_w and of
    each ``state`` entry of the returned config (None where it is missing): outputs ``next_w``, ``velocity``
    after the first step, ``next_w_2``, ``velocity_2`` after the second (:func:`step_output`). Snapshots,
    because a rule may update in place (the hand-out's own ``sgd`` does ``w -= ...``; ``v *= momentum`` is as
    correct), so the arrays a later step returns may be the very objects an earlier one returned; and a rule
    that returns None, or a config without its state, is judged on that instead of stopping the case.
    """

    def program(case: Case) -> Program:
        steps: list[Call] = []
        outputs: dict[str, Expr] = {}
        current_w: Expr = Input(w)
        current_config: Expr = Input(config)
        for k in range(1, len(case[grads]) + 1):
            steps.append(call(f"step{k}", module, fn, current_w, Item(Input(grads), k - 1), current_config))
            current_w, current_config = Item(Result(f"step{k}"), 0), Item(Result(f"step{k}"), 1)
            kept = [call(step_output("next_w", k), SUPPORT_MODULE, "snapshot", current_w)]
            kept += [call(step_output(key, k), SUPPORT_MODULE, "snapshot", current_config, Const(key)) for key in state]
            for snapshot in kept:
                steps.append(snapshot)
                outputs[snapshot.id] = Result(snapshot.id)
        return Program(steps=tuple(steps), outputs=outputs)

    return program


# ---------------------------------------------------------------- a network class through its public methods
def net_program(
    module: str, cls: str, *, ctor: Mapping[str, Expr], params: Sequence[str],
    calls: Sequence[tuple[str, str, Sequence[Expr]]], outputs: Mapping[str, Expr], replace_misfits: bool = False,
) -> Program:
    """``net = cls(**ctor)``; write the case's ``params`` into ``net.params[k]`` (so every case judges the
    methods at the same point, whatever the random initialisation); then each ``(id, method, args)`` of
    ``calls`` on the net, in order; fetch ``outputs`` (expressions over the calls' results). The instance never
    leaves the worker, only the fetched values do: TwoLayerNet's move, written once for every network class.

    ``replace_misfits``: a parameter whose initial array has another shape than the case's is replaced instead
    of written into (the support module's ``set_param``), so a wrong shape made by ``__init__`` costs the
    ``__init__`` check only. For networks whose methods read ``self.params`` at call time (cs231n's); a net
    whose layers hold the arrays themselves (the book's) keeps the in-place write."""
    net = Result("net")
    steps: list[Call | Assign] = [call("net", module, cls, **dict(ctor))]
    if replace_misfits:
        steps += [call(f"set_{k}", SUPPORT_MODULE, "set_param", Attr(net, "params"), Const(k), Input(k))
                  for k in params]
    else:
        steps += [Assign(Item(Attr(net, "params"), k), Input(k)) for k in params]
    steps += [method(id_, net, name, *args) for id_, name, args in calls]
    return Program(steps=tuple(steps), outputs=dict(outputs))


def own_loss_gradient(
    module: str, cls: str, *, ctor: Callable[[Case], Mapping[str, Expr]], params: Callable[[Case], Sequence[str]],
    wrt: Mapping[str, str], max_entries: int, sample: int,
    reference: Callable[[Case, Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> OwnGradient:
    """Judge a network's gradients (outputs ``grad_<param>``, ``wrt`` maps each to its parameter) against
    central differences of the student's own train-mode loss, as the hand-out's notebook checks a network:
    each perturbed point builds a fresh net, writes the case's parameters (one perturbed) and calls
    ``loss(X, y)``. Where the comparison with the reference fails because of the student's layers (a convention
    of theirs that moves the loss a little), gradients that are right for the network they built keep their
    points; the loss must be close to the reference's (``reference``: that reference given the student's
    outputs) for this to apply. At most ``sample`` entries of each parameter are perturbed, evenly spread, as
    the notebook's grad_check_sparse does: a network has too many to perturb all."""

    def forward(case: Case) -> Program:
        return net_program(module, cls, ctor=ctor(case), params=params(case),
                           calls=(("train", "loss", (Input("X"), Input("y"))),),
                           outputs={"loss": Item(Result("train"), 0)}, replace_misfits=True)

    return OwnGradient(forward=forward, wrt=dict(wrt), out="loss", upstream=(("loss", ""),),
                       max_entries=max_entries, sample=sample, reference=reference,
                       label="finite differences of your network's loss",
                       spares="a convention of your layers that moves the loss a little does not cost {name} "
                              "its points")


def fetched_loss_and_grads(params: Sequence[str], result: str = "train") -> Program:
    """The ``(loss, grads)`` a net's ``loss(X, y)`` returned (the step ``result``), fetched entry by entry as
    outputs ``loss`` and ``grad_<k>`` for each of ``params``: snapshots, so that a missing entry (or None in
    place of the pair) is judged as not produced instead of stopping the case with a grader error."""
    steps = [call("loss", SUPPORT_MODULE, "snapshot", Result(result), Const(0))]
    steps += [call(f"grad_{k}", SUPPORT_MODULE, "snapshot", Result(result), Const(1), Const(k)) for k in params]
    return Program(steps=tuple(steps), outputs={step.id: Result(step.id) for step in steps})


def initial_params(module: str, cls: str, *, ctor: Mapping[str, Expr], keys: Sequence[str]) -> Program:
    """``init = cls(**ctor)`` and a snapshot of each ``init.params[k]`` as the constructor left it (output
    ``init_<k>``; None where it made none): what an ``__init__`` check judges (names, shapes, scales)."""
    steps: list[Call | Assign] = [call("init", module, cls, **dict(ctor))]
    outputs: dict[str, Expr] = {}
    for k in keys:
        snapshot = call(f"init_{k}", SUPPORT_MODULE, "snapshot", Attr(Result("init"), "params"), Const(k))
        steps.append(snapshot)
        outputs[snapshot.id] = Result(snapshot.id)
    return Program(steps=tuple(steps), outputs=outputs)
