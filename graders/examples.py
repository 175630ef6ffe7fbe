"""Example submissions as end-to-end fixtures: grade each one and compare with what it must get.

Each ``submissions/examples/<name>/`` holds the submission (a folder ``submission/``, or ``submission.zip``,
``submission.py``, ``submission.ipynb``) and ``expected.toml``:

    assignment = "cs231n-a2"
    default = "full"                    # what unlisted functions must get: "full", "zero" or "any"
    [functions]
    conv_backward_naive = { failing = ["dx"], status = "partial", diagnosis = ["pad = 0"] }
    affine_forward = "full"
    svm_loss = "missing"                # a status name

Expectations are about behaviour (full marks, which checks fail, which status, words the diagnosis must contain),
never a number tuned to the grader. ``python -m graders.examples check`` grades them all and exits non-zero on
any mismatch; ``python -m graders.examples grade --out DIR`` also writes every report.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import tomllib
from rich.markup import escape
from rich.table import Table

from graders import assignment as assignments
from graders.grade import GradeOptions, grade
from graders.report import write_reports
from graders.report.terminal import output_console
from graders.selftest.patch import Patch, apply_patches, read_tree, write_tree

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "submissions" / "examples"
SUBMISSION_NAMES = ("submission", "submission.zip", "submission.py", "submission.ipynb")


@dataclass(frozen=True)
class Example:
    name: str
    path: Path
    submission: Path
    expected: dict[str, Any]

    @property
    def assignment(self) -> str:
        return str(self.expected.get("assignment", "cs231n-a2"))


def discover(root: Path = EXAMPLES_DIR) -> list[Example]:
    examples = []
    for folder in sorted(p for p in root.iterdir() if (p / "expected.toml").exists()):
        expected = tomllib.loads((folder / "expected.toml").read_text())
        if "base" in expected:
            submission = derive(root, folder.name, expected)
        else:
            found = next((folder / n for n in SUBMISSION_NAMES if (folder / n).exists()), None)
            if found is None:
                raise FileNotFoundError(
                    f"{folder} has expected.toml but no submission ({', '.join(SUBMISSION_NAMES)})"
                )
            submission = found
        examples.append(Example(folder.name, folder, submission, expected))
    return examples


def derive(root: Path, name: str, expected: dict[str, Any]) -> Path:
    """Write the base example's submission with this example's patches applied into a temporary folder."""
    base = root / str(expected["base"]) / "submission"
    if not base.is_dir():
        raise FileNotFoundError(f"{name}: base example {expected['base']!r} has no submission/ folder")
    patches = [Patch(p["file"], p["old"], p["new"]) for p in expected.get("patch", [])]
    if not patches:
        raise ValueError(f"{name}: a derived example needs at least one [[patch]]")
    files = apply_patches(read_tree(base), patches, name)
    folder = Path(tempfile.mkdtemp(prefix=f"nngrade-example-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    write_tree(files, folder / "submission")
    return folder / "submission"


def mismatches(example: Example, report: dict[str, Any]) -> list[str]:
    """Every way the report differs from the example's expectations (empty when it matches)."""
    problems: list[str] = []
    wanted: dict[str, Any] = example.expected.get("functions", {})
    default = example.expected.get("default", "full")
    by_name = {f["name"]: f for f in report["functions"]}
    unknown = set(wanted) - set(by_name)
    if unknown:
        problems.append(f"expected.toml names functions the assignment does not grade: {sorted(unknown)}")
    for name, entry in by_name.items():
        expectation = wanted.get(name, default)
        if _unchecked(entry, expectation):
            continue  # see not_checked_here
        if isinstance(expectation, str):
            expectation = {"full": {"full": True}, "zero": {"zero": True}, "any": {}}.get(
                expectation, {"status": expectation}
            )
        problems += [f"{name}: {p}" for p in _compare(entry, expectation)]
    return problems


def _unchecked(entry: dict[str, Any], expectation: Any) -> bool:
    """This machine could not grade the function (status ``environment``: a data set or package it lacks), and
    the example does not expect exactly that: the example says nothing either way here."""
    expected_status = expectation if isinstance(expectation, str) else expectation.get("status")
    return entry["status"] == "environment" and expected_status != "environment"


def not_checked_here(example: Example, report: dict[str, Any]) -> list[str]:
    """The functions this machine could not grade, each with what it lacked (not a mismatch: the grading
    environment's gap is not the grader's verdict)."""
    wanted: dict[str, Any] = example.expected.get("functions", {})
    default = example.expected.get("default", "full")
    return [f"{entry['name']}: {_first_message(entry)}" for entry in report["functions"]
            if _unchecked(entry, wanted.get(entry["name"], default))]


def _first_message(entry: dict[str, Any]) -> str:
    return next((c["message"].splitlines()[0] for c in entry["checks"] if c["message"]), entry["status"])


def _compare(entry: dict[str, Any], want: dict[str, Any]) -> list[str]:
    problems = []
    score, top = entry["score"], entry["max_score"]
    if want.get("full") and score != top:
        failing = [c["name"] for c in entry["checks"] if not c["passed"]]
        detail = "; ".join(
            c["message"].splitlines()[0] for c in entry["checks"] if not c["passed"] and c["message"]
        )
        problems.append(
            f"expected full marks, got {score:g}/{top:g} ({entry['status']}; failing {failing}: {detail})"
        )
    if want.get("zero") and score != 0:
        problems.append(f"expected 0, got {score:g}/{top:g}")
    if "status" in want and entry["status"] != want["status"]:
        problems.append(f"expected status {want['status']}, got {entry['status']}")
    if "failing" in want:
        failing = sorted(c["name"] for c in entry["checks"] if not c["passed"])
        if failing != sorted(want["failing"]):
            problems.append(f"expected failing checks {sorted(want['failing'])}, got {failing}")
    text = " ".join(entry["diagnosis"]).lower()
    for words in want.get("diagnosis", []):
        if words.lower() not in text:
            problems.append(f"diagnosis should mention {words!r}; it says: {entry['diagnosis']}")
    for words in want.get("warning", []):
        if not any(words.lower() in w.lower() for w in entry["warnings"]):
            problems.append(f"warnings should mention {words!r}; they are: {entry['warnings']}")
    return problems


def run_examples(names: tuple[str, ...], out: Path | None, seed: int, profile: str) -> int:
    console = output_console()  # plain output never folds an example's name
    table = Table("example", "assignment", "score", "result")
    failures = 0
    unchecked: list[str] = []
    for example in discover():
        if names and example.name not in names:
            continue
        assignment = assignments.load(example.assignment)
        report = grade(example.submission, assignment, GradeOptions(seed=seed, profile=profile))
        if out is not None:
            write_reports(report, out / example.name)
        problems = mismatches(example, report)
        skipped = not_checked_here(example, report)
        failures += bool(problems)
        verdict = "[green]as expected[/green]" if not problems else "[red]MISMATCH[/red]"
        if skipped:
            verdict += f" [yellow]({len(skipped)} not checked here)[/yellow]"
        table.add_row(
            example.name, example.assignment, f"{report['score']:g}/{report['max_score']:g}", verdict
        )
        for problem in problems:
            console.print(f"[red]{example.name}[/red]: {escape(problem)}")
        unchecked += [f"{example.name}: {line}" for line in skipped]
    console.print(table)
    for line in unchecked:
        console.print(f"[yellow]not checked on this machine[/yellow] {escape(line)}")
    if unchecked:
        console.print("(the grading environment lacks what those functions need, e.g. the MNIST files: set "
                      "NNGRADE_MNIST_DIR to a folder holding them; the test suite checks them)")
    return 1 if failures else 0


@click.group()
def main() -> None:
    """Grade the example submissions (end-to-end fixtures)."""


@main.command()
@click.argument("names", nargs=-1)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Also write each report here.")
@click.option("--seed", default=0, show_default=True)
@click.option("--profile", default="standard", show_default=True)
def check(names: tuple[str, ...], out: Path | None, seed: int, profile: str) -> None:
    """Grade every example (or the NAMES given) and compare with expected.toml."""
    sys.exit(run_examples(names, out, seed, profile))


if __name__ == "__main__":
    main()
