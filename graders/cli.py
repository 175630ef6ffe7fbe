"""The ``nngrade`` command line (contract in DESIGN.md).

Exit status: 0 when grading completed, whatever the scores; 2 for bad usage or an unreadable submission path;
3 for an internal grader error.
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path

import click
from rich.console import Console

from graders import assignment as assignments
from graders.grade import PROFILES, GradeOptions, grade
from graders.report import render_terminal_table, write_reports
from graders.submission import SubmissionError

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _load_assignment(name: str) -> assignments.Assignment:
    try:
        return assignments.load(name)
    except assignments.AssignmentError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nngrade")
def main() -> None:
    """Grade neural-network layer code (cs231n assignment 2, Deep Learning from Scratch) against a trusted
    NumPy reference."""


@main.command("grade")
@click.argument("submission", type=click.Path(path_type=Path))
@click.option(
    "--assignment",
    "assignment_name",
    default="cs231n-a2",
    show_default=True,
    help="Assignment name (see `nngrade assignments`) or path to an assignment .toml file.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("nngrade-report"),
    show_default=True,
    help="Folder for report.json, report.md, report.html, results.json, junit.xml.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the property cases.")
@click.option(
    "--profile",
    type=click.Choice(sorted(PROFILES)),
    default="standard",
    show_default=True,
    help="How many property cases per function.",
)
@click.option(
    "--python",
    "python",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Run the student's code under this interpreter (it needs numpy).",
)
@click.option("--only", "only", multiple=True, metavar="FUNCTION",
              help="Grade only this function (repeatable); the report then covers just these.")
@click.option("--quiet", is_flag=True, help="Do not print the score table.")
def grade_command(
    submission: Path,
    assignment_name: str,
    out_dir: Path,
    seed: int,
    profile: str,
    python: str | None,
    only: tuple[str, ...],
    quiet: bool,
) -> None:
    """Grade SUBMISSION (a folder, .zip, .py or .ipynb) and write its reports to --out."""
    assignment = _load_assignment(assignment_name)
    unknown = set(only) - {g.spec.name for g in assignment.functions}
    if unknown:
        raise click.UsageError(f"{assignment.name} does not grade {', '.join(sorted(unknown))}")
    if not submission.exists():
        raise click.UsageError(f"submission {submission} does not exist")
    if python is not None:
        _check_interpreter(python)
    console = Console(stderr=True)
    try:
        with console.status("grading", spinner="dots") as status:
            options = GradeOptions(
                seed=seed,
                profile=profile,
                python=python,
                progress=lambda name: status.update(f"grading {name}"),
                only=frozenset(only) or None,
            )
            report = grade(submission, assignment, options)
        write_reports(report, out_dir)
    except SubmissionError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USAGE)
    if not quiet:
        render_terminal_table(report, Console())
        Console().print(f"reports written to {out_dir}")


def _check_interpreter(python: str) -> None:
    """--python must name an interpreter that can run the worker: Python 3 with numpy."""
    probe = subprocess.run(
        [python, "-I", "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise click.UsageError(f"--python {python} cannot run the grading worker (it needs numpy): {last}")


@main.command("assignments")
def list_assignments() -> None:
    """List the built-in assignments, their functions and points."""
    console = Console()
    for name in assignments.available():
        assignment = assignments.load(name)
        console.print(f"[bold]{name}[/bold]: {assignment.title} ({assignment.max_score:g} points)")
        for graded in assignment.functions:
            checks = ", ".join(f"{c} {p:g}" for c, p in graded.check_points.items())
            console.print(
                f"  {graded.spec.name:<32} {graded.points:>5g}  [dim]{graded.spec.module}: {checks}[/dim]"
            )


def run() -> None:
    """Entry point with the exit-status contract: usage errors 2, internal errors 3."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        print("nngrade: internal grader error", file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
