"""The selftest's machinery: patches, catalogue parsing, which functions an edit reaches, scoring, CLI.

Everything here runs without grading (fast); grading the real catalogues is test_selftest_ci.py's job, and
checking that they are well-formed is test_selftest_catalogue.py's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graders import assignment as assignments
from graders import cli
from graders.selftest import catalogue as catalogues
from graders.selftest import suite
from graders.selftest.affected import affected_functions, changed_units, reachable, uses
from graders.selftest.catalogue import CatalogueError, Entry, parse
from graders.selftest.patch import Patch, PatchError, apply_patches, read_tree, write_tree
from graders.selftest.run import JobResult
from graders.selftest.run import summarise as summarise_report
from graders.selftest.score import (
    BROKEN,
    CAUGHT,
    ELSEWHERE,
    FALSE_FAILURE,
    KEPT,
    MISSED,
    Summary,
    ThresholdError,
    named,
    outcome,
    shortfalls,
    summarise,
    thresholds,
)
from graders.selftest.table import entries_table, summary_table

LAYERS = "cs231n/layers.py"
UTILS = "cs231n/layer_utils.py"

LAYERS_SOURCE = """\
import numpy as np

SCALE = 1.0


def relu_forward(x):
    # keep x: the backward needs it
    out = np.maximum(x, 0)
    return out, x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
"""

UTILS_SOURCE = """\
from .layers import *


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)
"""

TREE = {LAYERS: LAYERS_SOURCE.encode(), UTILS: UTILS_SOURCE.encode()}


def edit(old: str, new: str, path: str = LAYERS) -> dict[str, bytes]:
    return apply_patches(TREE, [Patch(path, old, new)])


# ------------------------------------------------------------------ patches
def test_patch_replaces_a_snippet_that_occurs_once() -> None:
    patched = edit("np.maximum(x, 0)", "np.abs(x)")
    assert b"np.abs(x)" in patched[LAYERS] and b"np.maximum" not in patched[LAYERS]
    assert patched[UTILS] == TREE[UTILS]
    assert b"np.maximum" in TREE[LAYERS], "the original tree is left alone"


@pytest.mark.parametrize("snippet, count", [("no such text", 0), ("x.reshape(x.shape[0], -1)", 2)])
def test_patch_whose_snippet_does_not_occur_exactly_once_is_refused(snippet: str, count: int) -> None:
    with pytest.raises(PatchError, match=f"matches {count} times"):
        edit(snippet, "y")


def test_patch_of_a_missing_file_is_refused() -> None:
    with pytest.raises(PatchError, match="no file"):
        apply_patches(TREE, [Patch("cs231n/other.py", "a", "b")])


def test_patch_with_an_empty_snippet_adds_a_missing_file_only() -> None:
    added = apply_patches(TREE, [Patch("cs231n/neural_net.py", "", "class TwoLayerNet: ...\n")])
    assert added["cs231n/neural_net.py"] == b"class TwoLayerNet: ...\n" and added[LAYERS] == TREE[LAYERS]
    with pytest.raises(PatchError, match="matches"):  # an existing file is never replaced wholesale
        apply_patches(TREE, [Patch(LAYERS, "", "x = 1\n")])


def test_tree_round_trips_through_a_folder(tmp_path: Path) -> None:
    write_tree(TREE, tmp_path / "sub")
    (tmp_path / "sub" / "cs231n" / "__pycache__").mkdir()
    (tmp_path / "sub" / "cs231n" / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"junk")
    assert read_tree(tmp_path / "sub") == TREE


# ------------------------------------------------------------------ which functions an edit reaches
def test_comment_only_edit_changes_nothing() -> None:
    assert changed_units(TREE, edit("# keep x: the backward needs it", "# a different comment")) == set()


def test_edit_inside_a_function_changes_that_function_only() -> None:
    assert changed_units(TREE, edit("np.maximum(x, 0)", "np.abs(x)")) == {"relu_forward"}


def test_module_level_edit_changes_every_unit_of_the_file() -> None:
    changed = changed_units(TREE, edit("SCALE = 1.0", "SCALE = 2.0"))
    assert changed == {"relu_forward", "relu_backward", "affine_forward", "affine_backward"}


def test_file_that_no_longer_parses_changes_every_unit_of_it() -> None:
    changed = changed_units(TREE, edit("def relu_backward(dout, cache):", "def relu_backward(dout, cache)"))
    assert changed == {"relu_forward", "relu_backward", "affine_forward", "affine_backward"}


def test_use_graph_follows_names_across_files() -> None:
    graph = uses(TREE)
    assert graph["affine_relu_forward"] == {"affine_forward", "relu_forward"}
    assert reachable({"affine_relu_forward"}, graph) == {
        "affine_relu_forward",
        "affine_forward",
        "relu_forward",
    }


def test_affected_functions_are_the_graded_callers_of_the_edit() -> None:
    assignment = assignments.load("cs231n-a2")
    after = edit("np.maximum(x, 0)", "np.abs(x)")
    affected = affected_functions(assignment, TREE, after)
    # relu_backward's program calls the student's relu_forward first, affine_relu_forward calls it inside,
    # and affine_relu_backward's program runs affine_relu_forward
    assert affected == ["relu_forward", "relu_backward", "affine_relu_forward", "affine_relu_backward"]
    assert affected_functions(assignment, TREE, TREE, always=("softmax_loss",)) == ["softmax_loss"]


# ------------------------------------------------------------------ catalogue parsing
def catalogue_data(**entry: object) -> dict[str, object]:
    base = {"id": "e1", "kind": "mutant", "target": "relu_forward", "pattern": "p", "old": "a", "new": "b"}
    return {"defaults": {"base": "cs231n-correct-loops", "file": LAYERS}, "entry": [{**base, **entry}]}


def test_entry_takes_its_base_and_file_from_the_defaults() -> None:
    catalogue = parse(catalogue_data(diagnosis=["words"]), Path("x.toml"), {"relu_forward"})
    (entry,) = catalogue.entries
    assert entry == Entry(
        "e1", "mutant", "cs231n-correct-loops", (Patch(LAYERS, "a", "b"),), "p", "relu_forward", ("words",)
    )
    assert catalogue.bases == ("cs231n-correct-loops",)


def test_entry_with_several_patches() -> None:
    data = catalogue_data(patch=[{"old": "c", "new": "d"}, {"file": UTILS, "old": "e", "new": "f"}])
    (entry,) = parse(data, Path("x.toml")).entries
    assert entry.patches == (Patch(LAYERS, "a", "b"), Patch(LAYERS, "c", "d"), Patch(UTILS, "e", "f"))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "red"}, "unknown keys"),
        ({"kind": "mutation"}, "kind must be one of"),
        ({"target": "no_such_function"}, "does not grade"),
        ({"kind": "equivalent", "diagnosis": ["x"]}, "only mutants"),
        ({"new": "a"}, "the same text"),
        ({"old": ""}, "non-empty string old"),
    ],
)
def test_malformed_entries_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse(catalogue_data(**change), Path("x.toml"), {"relu_forward"})


def test_entry_without_an_edit_or_with_a_duplicate_id_is_refused() -> None:
    data = catalogue_data()
    del data["entry"][0]["old"], data["entry"][0]["new"]  # type: ignore[index]
    with pytest.raises(CatalogueError, match="no edit"):
        parse(data, Path("x.toml"))
    twice = catalogue_data()
    twice["entry"] = twice["entry"] * 2  # type: ignore[operator]
    with pytest.raises(CatalogueError, match="duplicate id"):
        parse(twice, Path("x.toml"))


def test_unknown_base_and_unknown_catalogue_are_named() -> None:
    with pytest.raises(CatalogueError, match="no base submission 'no-such-base'"):
        catalogues.base_folder("no-such-base")
    with pytest.raises(CatalogueError, match="no selftest catalogue"):
        catalogues.load("no-such-assignment")


def test_selecting_unknown_entries_is_refused() -> None:
    catalogue = parse(catalogue_data(), Path("x.toml"))
    assert catalogue.select(["e1"]).entries == catalogue.entries
    with pytest.raises(CatalogueError, match="no catalogue entries"):
        catalogue.select(["e2"])


# ------------------------------------------------------------------ scoring
MUTANT = Entry("m", "mutant", "b", (Patch(LAYERS, "a", "b"),), "p", "relu_forward", ("flip",))
EQUIVALENT = Entry("e", "equivalent", "b", (Patch(LAYERS, "a", "b"),), "p", "relu_forward")


def result(
    lost: dict[str, float] | None = None,
    diagnoses: dict[str, tuple[str, ...]] | None = None,
    error: str = "",
    job_id: str = "m",
) -> JobResult:
    return JobResult(job_id, ("relu_forward", "relu_backward"), lost or {}, {}, diagnoses or {}, error)


@pytest.mark.parametrize(
    "entry, lost, error, expected",
    [
        (MUTANT, {"relu_forward": 1.0}, "", CAUGHT),
        (MUTANT, {"relu_forward": 1.0, "relu_backward": 1.0}, "", CAUGHT),
        (MUTANT, {"relu_backward": 1.0}, "", ELSEWHERE),
        (MUTANT, {}, "", MISSED),
        (EQUIVALENT, {}, "", KEPT),
        (EQUIVALENT, {"relu_backward": 0.5}, "", FALSE_FAILURE),
        (None, {"relu_backward": 0.5}, "", FALSE_FAILURE),
        (MUTANT, {}, "Traceback ...", BROKEN),
    ],
)
def test_outcome(entry: Entry | None, lost: dict[str, float], error: str, expected: str) -> None:
    assert outcome(entry, result(lost, error=error)) == expected


def test_diagnosis_is_named_only_when_every_word_is_in_the_targets_diagnosis() -> None:
    said = {"relu_forward": ("The kernel is FLIPPED.",), "relu_backward": ("nothing",)}
    assert named(MUTANT, result({"relu_forward": 1.0}, said)) is True
    assert named(MUTANT, result({"relu_forward": 1.0}, {"relu_backward": ("flip",)})) is False
    assert named(EQUIVALENT, result()) is None


def test_report_is_summarised_into_lost_points_and_diagnoses() -> None:
    report = {
        "functions": [
            {
                "name": "relu_forward",
                "score": 0.5,
                "max_score": 1.0,
                "status": "partial",
                "diagnosis": ["why"],
            },
            {"name": "relu_backward", "score": 1.0, "max_score": 1.0, "status": "passed", "diagnosis": []},
        ]
    }
    summary = summarise_report("m", report, 1.5)
    assert summary.lost == {"relu_forward": 0.5}
    assert summary.diagnoses == {"relu_forward": ("why",)}
    assert summary.graded == ("relu_forward", "relu_backward")


def scored(results: dict[str, JobResult]) -> Summary:
    catalogue = catalogues.Catalogue("cs231n-a2", (MUTANT, EQUIVALENT), Path("x.toml"))
    return summarise(catalogue, results)


def test_summary_counts_and_shortfalls() -> None:
    summary = scored(
        {
            "base:b": result(job_id="base:b"),
            "m": result({"relu_backward": 1.0}, job_id="m"),
            "e": result({"relu_forward": 1.0}, job_id="e"),
        }
    )
    assert [r.outcome for r in summary.rows] == [KEPT, ELSEWHERE, FALSE_FAILURE]
    assert (summary.mutants, summary.caught, summary.elsewhere, summary.false_failures) == (1, 0, 1, 1)
    assert summary.mutation_score == 1.0 and summary.caught_at_right_function == 0.0
    assert (summary.diagnosis_checked, summary.diagnosis_named) == (1, 0)
    limits = thresholds(
        {"caught_at_right_function": 1.0, "false_failures": 0, "mutation_score": 1, "min_mutants": 2}
    )
    problems = shortfalls(summary, limits)
    assert [p.split(":")[0] for p in problems] == [
        "caught_at_right_function",
        "false_failures",
        "min_mutants",
    ]
    assert summary.as_dict()["entries"][1]["outcome"] == ELSEWHERE


def test_size_thresholds_are_skipped_on_partial_runs_and_broken_entries_always_count() -> None:
    summary = summarise(
        catalogues.Catalogue("cs231n-a2", (MUTANT,), Path("x.toml")),
        {"m": result(error="PatchError: stale")},
        complete=False,
    )
    assert shortfalls(summary, {"min_mutants": 5.0}) == ["broken entries (could not be built or graded): m"]


@pytest.mark.parametrize(
    "table, message",
    [({"caught": 1.0}, "unknown selftest thresholds"), ({"false_failures": "none"}, "must be a number")],
)
def test_malformed_thresholds_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        thresholds(table)


def test_built_in_assignments_thresholds_are_valid() -> None:
    for name in catalogues.available():
        limits = thresholds(assignments.load(name).data.get("selftest", {}))
        assert limits.get("false_failures") == 0 and limits.get("caught_at_right_function") == 1.0, name


def test_tables_show_every_entry_and_the_thresholds() -> None:
    from rich.console import Console

    summary = scored(
        {"m": result({"relu_forward": 1.0}, {"relu_forward": ("flip",)}), "e": result(job_id="e")}
    )
    console = Console(width=200, record=True)
    console.print(entries_table(summary, wide=True))
    console.print(summary_table(summary, {"caught_at_right_function": 1.0, "false_failures": 0}, 3.0))
    text = console.export_text()
    for words in ("m", "e", "caught", "kept", "diagnosis named", ">= 100%", "<= 0", "(3 s)"):
        assert words in text


# ------------------------------------------------------------------ the command
def test_command_exits_1_below_the_thresholds_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = scored({"m": result({}, job_id="m"), "e": result(job_id="e")})

    def fake_run(name: str, entry_ids: object, **options: object) -> suite.SelftestRun:
        limits = {"caught_at_right_function": 1.0}
        return suite.SelftestRun(summary, limits, shortfalls(summary, limits), 1.0)

    monkeypatch.setattr(suite, "run_selftest", fake_run)
    out = tmp_path / "selftest.json"
    outcome_ = CliRunner().invoke(cli.main, ["selftest", "--assignment", "cs231n-a2", "--json", str(out)])
    assert outcome_.exit_code == 1, outcome_.output
    assert "below threshold" in outcome_.output and "missed" in outcome_.output
    (written,) = json.loads(out.read_text())
    assert written["missed"] == 1 and written["problems"]


def test_command_refuses_unknown_entries_and_entries_without_one_assignment() -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli.main, ["selftest", "--assignment", "cs231n-a2", "--entry", "no-such-entry"])
    assert unknown.exit_code == 2 and "no catalogue entries" in unknown.output
    ambiguous = runner.invoke(
        cli.main, ["selftest", "--assignment", "cs231n-a2", "--assignment", "dlfs", "--entry", "x"]
    )
    assert ambiguous.exit_code == 2 and "exactly one --assignment" in ambiguous.output


def test_tables_show_messages_as_text_not_markup() -> None:
    """An error from student code (or a pattern such as `bn_param[mode]`) is printed as written: rich markup in it
    is neither applied nor swallowed."""
    from rich.console import Console

    summary = scored({"m": result(error="Traceback\nValueError: bad [bold]bn_param[mode][/bold]", job_id="m"),
                      "e": result(job_id="e")})
    console = Console(width=300, record=True)
    console.print(entries_table(summary, wide=True))
    assert "bad [bold]bn_param[mode][/bold]" in console.export_text()
