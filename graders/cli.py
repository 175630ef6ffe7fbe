"""The ``nngrade`` command line (contract in DESIGN.md).

Exit status: 0 when grading completed, whatever the scores; 2 for bad usage or an unreadable submission path;
3 for an internal grader error.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from graders import assignment as assignments
from graders import courses
from graders.entry import REEXEC_VARIABLE
from graders.grade import DEFAULT_BUDGET_S, PROFILES, GradeOptions, grade
from graders.isolation import private_folder, remove_tree, sweep_stale
from graders.report import render_terminal_table, write_reports
from graders.report.terminal import output_console
from graders.report.text import one_line
from graders.sandbox.layers import MODES as SANDBOX_MODES
from graders.sandbox.layers import SandboxUnavailable
from graders.sandbox.layers import plan as plan_layers
from graders.submission import SubmissionError

if TYPE_CHECKING:
    from graders.batch.lms import Identity

EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # the shell's convention for a Ctrl-C
#: How long past its budget a batch's grading process may go silent before it is killed (--entry-timeout).
ENTRY_TIMEOUT_MARGIN_S = 300.0


# Options shared by several commands, declared once so their defaults and help cannot drift apart.
SEED_OPTION = click.option("--seed", default=0, show_default=True, type=int, help="Seed of the property cases.")
PROFILE_OPTION = click.option(
    "--profile",
    type=click.Choice(sorted(PROFILES)),
    default="standard",
    show_default=True,
    help="How many property cases per function.",
)
BUDGET_OPTION = click.option(
    "--budget",
    "budget",
    type=click.FloatRange(min=1.0),
    default=DEFAULT_BUDGET_S,
    show_default=True,
    help="Seconds one submission may take in all; functions not reached in time get status timeout and the "
    "points earned before are kept.",
)
SANDBOX_OPTION = click.option(
    "--sandbox", "sandbox_mode", type=click.Choice(SANDBOX_MODES), default="default", show_default=True,
    help="strict: refuse to grade unless every isolation layer is active (see `nngrade doctor`).")
ONLY_OPTION = click.option(
    "--only", "only", multiple=True, metavar="FUNCTION",
    help="Grade only this function (repeatable); the reports then cover just these.")
PYTHON_OPTION = click.option(
    "--python",
    "python",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Run the students' code under this interpreter (it needs numpy).",
)


def _use_specs(_ctx: click.Context, _param: click.Parameter, folders: tuple[Path, ...]) -> None:
    """Register --specs folders before any other option is read (the option is eager), so the assignment
    named by --assignment may be one of theirs."""
    if folders:
        try:
            courses.use_folders(folders)
        except courses.CourseError as exc:
            raise click.BadParameter(str(exc)) from None


SPECS_OPTION = click.option(
    "--specs", "specs", multiple=True, metavar="DIR", type=click.Path(path_type=Path), is_eager=True,
    expose_value=False, callback=_use_specs,
    help="A folder of a course's own specs and assignment files (repeatable; see docs/courses.md).")


def _warn_about_seed(seed: int) -> None:
    """Grading with the self-check's public seed shows students the graded cases: say so."""
    from graders.selfcheck import seed_warning

    warning = seed_warning(seed)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def _check_specs_outside(graded: Path) -> None:
    try:
        courses.check_outside(graded)
    except courses.CourseError as exc:
        raise click.UsageError(str(exc)) from None


def _load_assignment(name: str) -> assignments.Assignment:
    try:
        return assignments.load(name)
    except assignments.AssignmentError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nngrade")
def main() -> None:
    """Grade neural-network code written in NumPy (CS231n assignments 1-3, Deep Learning from Scratch, a
    course's own functions) against a trusted NumPy reference."""


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
@SEED_OPTION
@PROFILE_OPTION
@PYTHON_OPTION
@ONLY_OPTION
@SANDBOX_OPTION
@BUDGET_OPTION
@SPECS_OPTION
@click.option(
    "--lanes",
    type=click.IntRange(1, 8),
    default=None,
    help="Functions graded at once, each in a worker of its own (default: 2 where two or more cores are "
    "available, else 1). The report is the same; 1 leaves a core free on a shared machine.",
)
@click.option("--quiet", is_flag=True, help="Do not print the score table.")
def grade_command(
    submission: Path,
    assignment_name: str,
    out_dir: Path,
    seed: int,
    profile: str,
    python: str | None,
    only: tuple[str, ...],
    sandbox_mode: str,
    budget: float,
    lanes: int | None,
    quiet: bool,
) -> None:
    """Grade SUBMISSION (a folder, .zip, .py or .ipynb) and write its reports to --out."""
    assignment_name = _absolute_if_file(assignment_name)
    assignment = _load_assignment(assignment_name)
    _check_only(assignment, only)
    submission, out_dir = _submission_path(submission), Path(os.path.abspath(out_dir))
    _check_out(out_dir)
    _warn_about_seed(seed)
    python = _interpreter(python)
    _work_in_private_folder()
    console = Console(stderr=True)
    try:
        with console.status("grading", spinner="dots") as status:
            options = GradeOptions(
                seed=seed,
                profile=profile,
                python=python,
                progress=lambda name: status.update(f"grading {name}"),
                only=frozenset(only) or None,
                sandbox=sandbox_mode,
                budget_s=budget,
                lanes=lanes,
            )
            report = grade(submission, assignment, options)
        write_reports(report, out_dir)
    except (SubmissionError, SandboxUnavailable) as exc:
        console.print(Text("error: ", style="red") + Text(one_line(exc)))
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        console.print(Text("interrupted: nothing was written (the report is written only when grading ends)"))
        sys.exit(EXIT_INTERRUPTED)
    if not quiet:
        console = output_console()
        render_terminal_table(report, console)
        console.print(Text(f"reports written to {out_dir}"))


def _check_only(assignment: assignments.Assignment, only: tuple[str, ...]) -> None:
    names = [g.spec.name for g in assignment.functions]
    unknown = set(only) - set(names)
    if unknown:
        raise click.UsageError(f"{assignment.name} does not grade {', '.join(sorted(unknown))}; its functions are: "
                               + ", ".join(names))


def _check_out(out_dir: Path) -> None:
    """--out must be a folder that can be created or written, checked before any grading."""
    if out_dir.exists() and not out_dir.is_dir():
        raise click.UsageError(f"--out {out_dir} is a file, not a folder")
    parent = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise click.UsageError(f"--out {out_dir} cannot be created or written")


def _absolute_if_file(assignment_name: str) -> str:
    """An assignment given as a .toml path, made absolute (the grader then leaves the caller's folder)."""
    return os.path.abspath(assignment_name) if assignment_name.endswith(".toml") else assignment_name


def _work_in_private_folder() -> None:
    """Leave the caller's folder (perhaps a class folder of student files) for a fresh one of our own, removed
    at exit. Only for a real command-line run (re-executed isolated by graders/entry.py): a test driving the CLI
    in-process keeps its folder."""
    if not os.environ.get(REEXEC_VARIABLE):
        return
    sweep_stale()  # what graders killed before they could clean up left behind (graders/isolation.py)
    folder = private_folder("nngrade-cwd-")
    os.chdir(folder)
    atexit.register(remove_tree, folder)


def _submission_path(submission: Path) -> Path:
    """The submission as an absolute path, checked to exist and to lie apart from any --specs folder."""
    if not os.path.lexists(submission):
        raise click.UsageError(f"submission {submission} does not exist")
    absolute = Path(os.path.abspath(submission))
    _check_specs_outside(absolute)
    return absolute


def _interpreter(python: str | None) -> str | None:
    """--python as an absolute path, checked to run the worker (None stays None)."""
    if python is None:
        return None
    python = os.path.abspath(python)
    _check_interpreter(python)
    return python


def _check_interpreter(python: str) -> None:
    """--python must name an interpreter that can run the worker: Python 3 with numpy."""
    probe = subprocess.run(
        [python, "-I", "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise click.UsageError(f"--python {python} cannot run the grading worker (it needs numpy): {last}")


def _read_roster(path: Path | None) -> tuple[Identity, ...] | None:
    """--roster read before grading: a roster that cannot be read is bad usage."""
    from graders.batch.roster import RosterError, read_roster

    if path is None:
        return None
    try:
        return tuple(read_roster(path))
    except RosterError as exc:
        raise click.UsageError(str(exc)) from None


def _warn_if_one_submission(class_dir: Path, out_dir: Path, assignment_name: str, layout: str = "auto") -> None:
    """Say so, before grading, when a plain class folder looks like a single submission."""
    from graders.batch.discover import ClassFolderError, discover, one_submission_warning

    try:
        discovery = discover(class_dir, exclude=[out_dir], layout=layout)
    except ClassFolderError:
        return  # run_batch says what is wrong
    if discovery.layout != "plain":
        return  # an LMS export names its students: not one submission
    entries = discovery.entries
    paths = [p for candidates in _load_assignment(assignment_name).modules.values() for p in candidates]
    warning = one_submission_warning(class_dir, entries, paths)
    if warning:
        click.echo(f"warning: {one_line(warning)}", err=True)


@main.command("batch")
@click.argument("class_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for <entry>/ report folders, gradebook.csv and summary.html.",
)
@click.option(
    "--assignment",
    "assignment_name",
    default="cs231n-a2",
    show_default=True,
    help="Assignment name (see `nngrade assignments`) or path to an assignment .toml file.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Submissions graded at once on this machine [default: the number of cores; ignored with "
    "--scheduler, where each Dask worker thread grades one at a time].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep entries already graded with the same sources, assignment, seed, profile and grader version.",
)
@SEED_OPTION
@PROFILE_OPTION
@PYTHON_OPTION
@ONLY_OPTION
@SANDBOX_OPTION
@BUDGET_OPTION
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Grade on this Dask scheduler's workers (pip install 'nngrade[cluster]'; the class folder must be "
    "readable at the same path there).",
)
@click.option(
    "--entry-timeout",
    "entry_timeout",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Seconds after which a grading process that has not answered is killed and its entry fails (a "
    "safety net behind --budget) [default: the budget plus 5 minutes].",
)
@click.option(
    "--layout",
    type=click.Choice(["auto", "plain", "gradescope", "canvas", "moodle"]),
    default="auto",
    show_default=True,
    help="How CLASS_DIR is laid out: one entry per student (plain), or an LMS export whose names and metadata "
    "fill the gradebook's id, name and email columns; auto detects them.",
)
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path, resolve_path=True),
    default=None,
    help="CSV with a header row and columns id[,name,email]: roster students with no entry get a gradebook row "
    "with status missing; entries not on the roster get a warning.",
)
@SPECS_OPTION
@click.option("--quiet", is_flag=True, help="No progress output.")
def batch_command(
    class_dir: Path,
    out_dir: Path,
    assignment_name: str,
    jobs: int | None,
    resume: bool,
    seed: int,
    profile: str,
    python: str | None,
    only: tuple[str, ...],
    sandbox_mode: str,
    budget: float,
    scheduler: str | None,
    entry_timeout: float | None,
    quiet: bool,
    layout: str = "auto",
    roster: Path | None = None,
) -> None:
    """Grade every entry of CLASS_DIR (a folder, .zip, .py or .ipynb per student, or a Gradescope, Canvas or
    Moodle export) into --out: one report folder per entry, gradebook.csv and summary.html. Exit status 3 when
    some entry could not be graded."""
    from graders.batch import BatchOptions, ClassFolderError, ExecutorError, OutputLocked, run_batch
    from graders.batch.progress import make_progress
    from graders.batch.run import BatchInterrupted

    assignment_name = _absolute_if_file(assignment_name)
    _check_only(_load_assignment(assignment_name), only)
    class_dir, out_dir = Path(os.path.abspath(class_dir)), Path(os.path.abspath(out_dir))
    _check_specs_outside(class_dir)
    _check_out(out_dir)
    _warn_about_seed(seed)
    python = _interpreter(python)
    if sandbox_mode == "strict":
        try:
            plan_layers(python, "strict")
        except SandboxUnavailable as exc:
            raise click.UsageError(str(exc)) from None
    _work_in_private_folder()
    options = BatchOptions(
        assignment=assignment_name,
        seed=seed,
        profile=profile,
        resume=resume,
        python=python,
        scheduler=scheduler,
        entry_timeout_s=entry_timeout if entry_timeout is not None else budget + ENTRY_TIMEOUT_MARGIN_S,
        only=tuple(sorted(only)),
        sandbox=sandbox_mode,
        budget_s=budget,
        layout=layout,
        roster=_read_roster(roster),
    )
    if jobs is not None:
        options.jobs = jobs
    _warn_if_one_submission(class_dir, out_dir, assignment_name, layout)
    try:
        result = run_batch(class_dir, out_dir, options, progress=make_progress(quiet))
    except (ClassFolderError, OutputLocked, ExecutorError) as exc:
        raise click.UsageError(str(exc)) from None
    except BatchInterrupted as interrupted:
        done = interrupted.result
        click.echo(f"interrupted: the entries graded so far are kept; {done.gradebook} and {done.summary} list "
                   "them, marked incomplete; rerun with --resume to finish", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted: the entries graded so far are kept; rerun with --resume to finish", err=True)
        sys.exit(EXIT_INTERRUPTED)
    kept = len(result.outcomes) - len(result.graded) - len(result.failed)
    if not quiet:
        click.echo(
            f"{len(result.outcomes)} entries: {len(result.graded)} graded, {kept} kept from an earlier run, "
            f"{len(result.failed)} failed; wrote {result.gradebook} and {result.summary}"
        )
        if result.ignored:
            click.echo(f"ignored (not submissions): {', '.join(one_line(name) for name in result.ignored)}")
        if result.layout != "plain":
            click.echo(f"read as a {result.layout} export: id, name and email columns filled from it")
        if result.missing:
            click.echo(f"{len(result.missing)} on the roster handed nothing in (status missing): "
                       f"{', '.join(one_line(who.label) for who in result.missing)}")
    for warning in result.warnings:
        click.echo(f"warning: {one_line(warning)}", err=True)
    if result.failed:
        click.echo(
            f"error: {len(result.failed)} entries could not be graded (see <entry>/error.txt; --resume grades "
            f"them again): {', '.join(one_line(name) for name in result.failed)}",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


@main.command("check")
@click.argument("submission", type=click.Path(path_type=Path), default=Path("."))
@click.option("--assignment", "assignment_name", default="cs231n-a2", show_default=True,
              help="Assignment name (see `nngrade assignments`) or path to an assignment .toml file.")
@ONLY_OPTION
@PYTHON_OPTION
@SPECS_OPTION
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Also write the report files (report.html, ...) to this folder; by default nothing is written.")
def check_command(submission: Path, assignment_name: str, only: tuple[str, ...], python: str | None,
                  out_dir: Path | None) -> None:
    """For students: check your working copy (default: the current folder) on the visible cases, in seconds.

    The same sandbox, checks, diagnoses and counterexamples as grading, on the hand-out's fixed cases and a few
    property cases from a public seed (never the cases your course grades with). Exit status 1 when a function
    loses points."""
    from graders.selfcheck import feedback_text, self_check

    assignment_name = _absolute_if_file(assignment_name)
    assignment = _load_assignment(assignment_name)
    _check_only(assignment, only)
    submission = _submission_path(submission)
    if out_dir is not None:
        out_dir = Path(os.path.abspath(out_dir))
        _check_out(out_dir)
    python = _interpreter(python)
    _work_in_private_folder()
    console = Console(stderr=True)
    try:
        with console.status("checking", spinner="dots"):
            result = self_check(submission, assignment, only=frozenset(only) or None, python=python)
    except (SubmissionError, SandboxUnavailable) as exc:
        console.print(Text("error: ", style="red") + Text(one_line(exc)))
        sys.exit(EXIT_USAGE)
    if out_dir is not None:
        write_reports(result.report, out_dir)
    output = output_console()
    render_terminal_table(result.report, output)
    output.print(Text(feedback_text(result.report)), soft_wrap=True)
    if not result.all_passed:
        sys.exit(1)


@main.command("assignments")
@SPECS_OPTION
def list_assignments() -> None:
    """List the assignments (built-in, and those of installed course packages and --specs folders), their
    functions and points."""
    console = output_console()
    try:
        names = assignments.available()
    except assignments.AssignmentError as exc:
        raise click.UsageError(str(exc)) from None
    for name in names:
        assignment = _load_assignment(name)
        console.print(f"[bold]{name}[/bold]: {assignment.title} ({assignment.max_score:g} points)")
        for graded in assignment.functions:
            checks = ", ".join(f"{c} {p:g}" for c, p in graded.check_points.items())
            console.print(
                f"  {graded.spec.name:<32} {graded.points:>5g}  [dim]{graded.spec.module}: {checks}[/dim]"
            )


@main.command("selftest")
@click.option(
    "--assignment",
    "assignment_names",
    multiple=True,
    help="Assignment whose catalogue to run (repeatable); default: every assignment that has one.",
)
@click.option(
    "--entry",
    "entry_ids",
    multiple=True,
    metavar="ID",
    help="Run only this catalogue entry (repeatable; needs one --assignment; bases are skipped).",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Parallel gradings (default: one per core)."
)
@SEED_OPTION
@PROFILE_OPTION
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write every entry's outcome to this JSON file.")
def selftest_command(
    assignment_names: tuple[str, ...],
    entry_ids: tuple[str, ...],
    jobs: int | None,
    seed: int,
    profile: str,
    json_out: Path | None,
) -> None:
    """Measure the grader on its mutation catalogue: bugs caught at the right function, correct variants kept.

    Exits 1 when a result is below the thresholds in the assignment file's [selftest] table.
    """
    from graders.selftest import catalogue as catalogues
    from graders.selftest.run import JobResult
    from graders.selftest.score import ThresholdError
    from graders.selftest.suite import run_selftest
    from graders.selftest.table import print_summary

    names = list(assignment_names) or catalogues.available()
    if entry_ids and len(names) != 1:
        raise click.UsageError("--entry needs exactly one --assignment")
    console, status_console = output_console(), Console(stderr=True)
    failed = False
    collected = []
    for name in names:
        _load_assignment(name)
        done = [0]
        with status_console.status(f"selftest {name}", spinner="dots") as status:

            def progress(result: JobResult, status: Any = status, done: list[int] = done) -> None:
                done[0] += 1
                status.update(f"selftest: {done[0]} graded, last {result.id}")

            try:
                outcome = run_selftest(
                    name, entry_ids, seed=seed, profile=profile, workers=jobs, progress=progress
                )
            except (catalogues.CatalogueError, ThresholdError) as exc:
                raise click.UsageError(str(exc)) from None
        print_summary(outcome.summary, outcome.limits, console, outcome.seconds)
        for problem in outcome.problems:
            console.print(f"[red]below threshold[/red] {name}: {problem}")
        failed = failed or not outcome.ok
        collected.append(
            dict(outcome.summary.as_dict(), seconds=round(outcome.seconds, 1), problems=outcome.problems)
        )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(collected, indent=2) + "\n")
    if failed:
        sys.exit(1)


@main.command("doctor")
@click.option("--python", "python", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Check the layers for workers running under this interpreter.")
@click.option("--require-strict", is_flag=True,
              help="Exit with status 1 unless `--sandbox strict` would grade and every probe is blocked.")
def doctor_command(python: str | None, require_strict: bool) -> None:
    """Show which isolation layers a worker gets here, checked by starting one and probing it."""
    from graders.sandbox import doctor

    diagnosis = doctor.examine(python)
    for line in doctor.render(diagnosis):
        click.echo(line)
    if require_strict and (diagnosis.strict_missing or not doctor.healthy(diagnosis)):
        sys.exit(1)


@main.command("cache")
@click.option("--clear", "clear", is_flag=True,
              help="Remove every version's banked cases (each is rebuilt by the next grading that needs it).")
def cache_command(clear: bool) -> None:
    """Show the case bank's folder and what each version of nngrade keeps there; --clear empties it."""
    import datetime

    from graders import casebank, casebank_versions

    root = casebank.bank_folder()
    current = casebank_versions.version_folder(root, casebank.code_fingerprint()).name
    click.echo(f"case bank: {click.format_filename(root)} (NNGRADE_CASE_BANK overrides it)")
    if clear:
        removed = casebank_versions.clear(root)
        click.echo(f"removed {len(removed)} version folder{'s' * (len(removed) != 1)}")
        return
    versions = casebank_versions.versions_in(root, current)
    for version in versions:
        used = datetime.datetime.fromtimestamp(version.last_used).strftime("%Y-%m-%d %H:%M")
        mark = "  (this version)" if version.current else ""
        click.echo(f"  {version.name:16s} {version.size_bytes / 1e6:9.1f} MB  last used {used}{mark}")
    if not any(v.current for v in versions):
        click.echo(f"  {current:16s} nothing banked yet  (this version)")
    total = sum(v.size_bytes for v in versions)
    click.echo(f"{len(versions)} version folder{'s' * (len(versions) != 1)}, {total / 1e6:.1f} MB; kept: this "
               f"version and the {casebank_versions.KEEP_OTHER_VERSIONS} most recently used others (the rest "
               f"go once unused for {casebank_versions.GRACE_S / 3600:g} hour)")


@main.group("gradescope")
def gradescope_group() -> None:
    """Gradescope's autograder: build the zip to upload; `run` is what the zip's run_autograder calls."""


@gradescope_group.command("build")
@click.option("--assignment", "assignment_name", required=True,
              help="Assignment name (see `nngrade assignments`) or path to an assignment .toml file.")
@click.option("--python-version", "python_version", default="3.11", show_default=True,
              help="Python the image grades with (setup.sh installs python3.N from the image's apt sources "
              "when missing, else uses python3).")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=Path("autograder.zip"),
              show_default=True, help="The zip to write.")
@click.option("--visibility", type=click.Choice(["visible", "after_published", "after_due_date", "hidden"]),
              default="visible", show_default=True,
              help="When students see the tests (one per function) and their output.")
@click.option("--seed", type=int, default=None,
              help="Seed of the property cases [default: a private one drawn for this bundle and printed].")
@PROFILE_OPTION
@BUDGET_OPTION
@SPECS_OPTION
def gradescope_build_command(
    assignment_name: str, python_version: str, out: Path, visibility: str, seed: int | None, profile: str,
    budget: float
) -> None:
    """Write the autograder zip (setup.sh, run_autograder, nngrade's source) for ASSIGNMENT."""
    import secrets

    from graders.gradescope.bundle import AutograderConfig, BundleError, build_bundle

    assignment_name = _absolute_if_file(assignment_name)
    _load_assignment(assignment_name)
    if seed is None:  # students may run nngrade themselves: the graded cases come from a seed they do not know
        seed = secrets.randbelow(2**31)
        click.echo(f"seed {seed} (private to this bundle; pass --seed {seed} to rebuild it the same)")
    _warn_about_seed(seed)
    config = AutograderConfig(assignment=assignment_name, seed=seed, profile=profile, budget_s=budget,
                              visibility=visibility)
    try:
        written = build_bundle(assignment_name, Path(os.path.abspath(out)), python_version=python_version,
                               config=config, specs=tuple(courses.folders()))
    except BundleError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {written}: upload it as the assignment's autograder (Configure Autograder, Zip file)")


AUTOGRADER_ROOT_OPTION = click.option(
    "--root", type=click.Path(path_type=Path, file_okay=False), default=Path("/autograder"), show_default=True,
    help="The autograder folder (source/ holds the bundle; submission/ and results/ when grading).")


def _autograder_root(root: Path) -> Path:
    """ROOT made absolute, before this process moves to its private folder."""
    absolute = Path(os.path.abspath(root))
    _work_in_private_folder()
    return absolute


@gradescope_group.command("run")
@AUTOGRADER_ROOT_OPTION
def gradescope_run_command(root: Path) -> None:
    """Grade ROOT/submission and write ROOT/results/results.json (called by the bundle's run_autograder)."""
    from graders.gradescope.autograder import run_autograder

    root = _autograder_root(root)
    results = run_autograder(root)
    click.echo(f"{results['score']:g} points; results in {os.path.join(root, 'results')}")


@gradescope_group.command("warm")
@AUTOGRADER_ROOT_OPTION
def gradescope_warm_command(root: Path) -> None:
    """Build the case bank for the bundle's assignment, seed and profile (called by the bundle's setup.sh)."""
    from graders.casebank import bank_folder
    from graders.gradescope.autograder import warm_bank

    warmed = warm_bank(_autograder_root(root))
    for name, why in sorted(warmed.failed.items()):
        click.echo(f"warning: {name} not banked (its submissions build it when graded): {why}", err=True)
    click.echo(f"case bank {click.format_filename(bank_folder())}: {len(warmed.built)} functions built, "
               f"{len(warmed.present)} already there, {len(warmed.failed)} not banked")


def run() -> None:
    """Entry point with the exit-status contract: usage errors 2, internal errors 3."""
    try:
        main.main(standalone_mode=False, prog_name="nngrade")
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
