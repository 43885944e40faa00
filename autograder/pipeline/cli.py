"""The ``autograder`` command: a whole term over nbgrader, one subcommand per step.

    autograder release  [ASSIGNMENT]          student versions (+ exchange)
    autograder collect  ASSIGNMENT SOURCE     LMS zip/folder, or --exchange
    autograder grade    ASSIGNMENT            parallel autograding
    autograder extend   ASSIGNMENT STUDENT DUE   a student's own due date (or --extensions CSV)
    autograder feedback ASSIGNMENT            HTML feedback per student
    autograder export                         grades.csv + canvas.csv
    autograder report   ASSIGNMENT            pass rates, histogram, failures
    autograder formgrader                     nbgrader's formgrader: grade written answers by hand
    autograder manual export|import ASSIGNMENT  written answers to a CSV, its scores and comments back
    autograder publish  DEST                  the student edition (website, notebooks, student package)

Only argument parsing and printing live here; each step is its own module.
"""

import argparse
import logging
import os
import sys

from . import limits
from .course_folder import DEFAULT_COURSE_DIR, ROOT, Course, CourseError, nbgrader_log, printable
from .database import reaching_gradebook
from .formgrader import FORMGRADER_PORT

CLUSTER_ENV = "AUTOGRADER_CLUSTER"  # the course's Dask scheduler, for every `grade` without --cluster


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="autograder", description=__doc__.splitlines()[0])
    top.add_argument("--course-dir", default=DEFAULT_COURSE_DIR,
                     help="grading folder: gradebook, submissions, feedback (default: %(default)s)")
    top.add_argument("--db-url", default="", help="gradebook URL: sqlite:///FILE or "
                     "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (default: sqlite:///COURSE_DIR/gradebook.db)")
    top.add_argument("--source", dest="source_dir", default=ROOT / "solutions",
                     help="instructor notebooks (default: %(default)s)")
    top.add_argument("--release", dest="release_dir", default=None,
                     help=f"student versions (default: {ROOT / 'exercises'}; COURSE_DIR/exercises with --course-dir)")
    top.add_argument("--course-id", default="lstm_course", help="course id in the gradebook and exchange")
    top.add_argument("--exchange-root", default=None,
                     help="nbgrader exchange folder (JupyterHub courses); none by default")
    top.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's own log")
    steps = top.add_subparsers(dest="step", required=True, metavar="STEP")

    release = steps.add_parser("release", help="generate the student versions (and release to the exchange)")
    release.add_argument("assignment", nargs="?", help="default: every assignment")
    release.add_argument("--due", help="due date, e.g. '2025-03-01 17:00:00 UTC'")

    collect = steps.add_parser("collect", help="bring in submissions from an LMS download or the exchange")
    collect.add_argument("assignment")
    collect.add_argument("source", nargs="?", help="folder or zip of submitted notebooks")
    collect.add_argument("--exchange", action="store_true", help="collect from the nbgrader exchange instead")
    collect.add_argument("--pattern", default=None,
                         help="regex for file names with groups student (and lms_id, notebook); default: Canvas")
    collect.add_argument("--roster", help="CSV with columns lms_id,student_id[,first_name,last_name,email], or "
                         "Canvas's gradebook export; stored in COURSE_DIR for later collects, replacing the one before")
    collect.add_argument("--max-file", type=float, default=limits.MAX_FILE_MB, metavar="MB",
                         help="larger files are skipped (default: %(default)s)")
    collect.add_argument("--max-collect", type=float, default=limits.MAX_COLLECT_MB, metavar="MB",
                         help="collect stops before writing more than this in all (default: %(default)s)")

    grade = steps.add_parser("grade", help="autograde every new or changed submission")
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, default=None, help="worker processes (default: number of cores)")
    grade.add_argument("--cluster", default=os.environ.get(CLUSTER_ENV) or None, metavar="tcp://HOST:8786",
                       help=f"grade on this Dask scheduler's workers instead (default: ${CLUSTER_ENV}, else locally)")
    grade.add_argument("--cell-timeout", type=int, default=limits.CELL_TIMEOUT,
                       help="seconds one cell may run (default: %(default)s)")
    grade.add_argument("--time-limit", type=int, default=limits.TIME_LIMIT,
                       help="seconds one notebook may run (default: %(default)s)")
    grade.add_argument("--late-policy", metavar="POLICY",
                       help="none, zero or per-day:PERCENT:FLOOR (per-day:10:50: 10%% of the score off per day "
                            "late or part of one, never below 50%%); stored, and applied to the submissions "
                            "graded before too (default: the stored policy, at first none)")
    grade.add_argument("--force", action="store_true", help="grade again even unchanged submissions")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student again, changed or not (repeatable); the others are untouched")
    sandbox = grade.add_argument_group("sandbox",
                                       "each submission's kernel runs in a bubblewrap sandbox with these limits")
    sandbox.add_argument("--memory", type=int, default=limits.MEMORY_MB, metavar="MIB",
                         help="private memory of each kernel process (default: %(default)s)")
    sandbox.add_argument("--processes", type=int, default=limits.PROCESSES,
                         help="processes and threads of a kernel (default: %(default)s)")
    sandbox.add_argument("--cpu-time", type=int, default=limits.CPU_SECONDS, metavar="SECONDS",
                         help="CPU time of a kernel (default: %(default)s)")
    sandbox.add_argument("--max-output", type=float, default=limits.MAX_OUTPUT_MB, metavar="MB",
                         help="outputs kept in a graded notebook (default: %(default)s)")
    sandbox.add_argument("--no-sandbox", action="store_true",
                        help="run student code unconfined, with your permissions: only for code you trust")

    extend = steps.add_parser("extend", help="give students a due date of their own, used by the late policy")
    extend.add_argument("assignment")
    extend.add_argument("student", nargs="?", help="a student id (of the roster, the gradebook or a submission)")
    extend.add_argument("due", nargs="?", help="with its time zone, e.g. '2025-03-04 17:00 UTC'; 'none' withdraws it")
    extend.add_argument("--extensions", metavar="CSV", help="columns student_id,due: one student per row")

    feedback = steps.add_parser("feedback", help="HTML feedback for every graded student")
    feedback.add_argument("assignment")
    feedback.add_argument("--canvas-download", metavar="ZIP",
                          help="the Canvas submissions zip: also write feedback/ASSIGNMENT_canvas.zip to re-upload")

    export = steps.add_parser("export", help="grades.csv and canvas.csv from the gradebook")
    export.add_argument("--out", help="output folder (default: COURSE_DIR/exports)")

    report = steps.add_parser("report", help="the class's results on one assignment")
    report.add_argument("assignment")
    report.add_argument("--format", choices=("md", "html"), default="md")
    report.add_argument("--out", help="output folder (default: COURSE_DIR/reports)")

    formgrader = steps.add_parser("formgrader", help="nbgrader's formgrader on the gradebook, for manual grading")
    formgrader.add_argument("--port", type=int, default=FORMGRADER_PORT, help="(default: %(default)s)")
    formgrader.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: %(default)s)")

    manual = steps.add_parser("manual", help="grade written answers by hand in a spreadsheet: export, then import")
    manual_steps = manual.add_subparsers(dest="manual_step", required=True, metavar="export|import")
    manual_export = manual_steps.add_parser("export", help="one row per student and question graded by hand")
    manual_export.add_argument("assignment")
    manual_export.add_argument("--out", metavar="CSV", help="default: COURSE_DIR/exports/ASSIGNMENT_manual.csv")
    manual_import = manual_steps.add_parser("import", help="the filled-in scores and comments into the gradebook")
    manual_import.add_argument("assignment")
    manual_import.add_argument("csv", metavar="CSV")

    publish = steps.add_parser("publish", help="write the student edition, for the course's public repository")
    publish.add_argument("dest", help="an empty or new folder")
    publish.add_argument("--reveal", action="append", default=[], metavar="ASSIGNMENT",
                         help="ship this assignment's reference solution (after its due date); repeatable")
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    # nbgrader runs the `alembic` tool of its environment when it creates a
    # gradebook: make that environment's bin/ findable even if not activated.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    log = nbgrader_log()
    log.propagate = False
    log.addHandler(logging.StreamHandler() if args.verbose else logging.NullHandler())
    log.setLevel(logging.INFO if args.verbose else logging.CRITICAL)
    course = Course(course_dir=args.course_dir, source_dir=args.source_dir, release_dir=args.release_dir,
                    db_url=args.db_url, course_id=args.course_id, exchange_root=args.exchange_root)
    try:
        with reaching_gradebook(course.db_url):  # a server that does not answer, before or during: one line
            return STEPS[args.step](course, args)
    except CourseError as error:
        print(f"autograder {args.step}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"autograder {args.step}: interrupted; what was finished is recorded", file=sys.stderr)
        return 130


def run_publish(course, args) -> int:
    from .publish import publish
    assignments = publish(args.dest, args.reveal)
    print(f"student edition in {args.dest}: website, chapters, {len(assignments)} exercises "
          f"({', '.join(assignments)}), revealed: {', '.join(args.reveal) or 'none'}")
    return 0


def run_release(course, args) -> int:
    from .release import release
    for assignment in [args.assignment] if args.assignment else course.assignments():
        for line in release(course, assignment, args.due):
            print(f"{assignment}: {line}")
    return 0


def run_collect(course, args) -> int:
    from .collect import CANVAS_PATTERN, collect
    if args.exchange == bool(args.source):
        raise CourseError("give either a SOURCE folder/zip or --exchange")
    if min(args.max_file, args.max_collect) <= 0:
        raise CourseError("--max-file and --max-collect must be positive")
    report = collect(course, args.assignment, args.source, args.pattern or CANVAS_PATTERN,
                     args.roster, exchange=args.exchange, max_file_mb=args.max_file, max_collect_mb=args.max_collect)
    def late(student):
        return f"  ({report.lateness[student]})" if report.lateness.get(student) else ""
    for student, origin in report.collected:
        print(f"collected  {printable(student):<24} {printable(origin)}{late(student)}")
    for student, origin in report.unchanged:
        print(f"unchanged  {printable(student):<24} {printable(origin)}{late(student)}")
    for student, kept, dropped in report.duplicates:
        print(f"duplicate  {printable(student):<24} kept {printable(kept)}, ignored older {printable(dropped)}")
    for student, origin, kept in report.older:
        print(f"older      {printable(student):<24} {printable(origin)}: older than the submission of {kept} "
              f"collected before, which is kept")
    for origin, reason in report.skipped:
        print(f"skipped    {printable(origin)}: {printable(reason)}")
    if report.roster:
        print(f"roster:    {printable(report.roster)}")
    print(f"{len(report.collected)} collected, {len(report.unchanged)} unchanged, "
          f"{len(report.duplicates)} older duplicates ignored, {len(report.older)} older than collected kept out, "
          f"{len(report.skipped)} files skipped")
    if report.stopped:
        print(f"autograder collect: {printable(report.stopped)}", file=sys.stderr)
        return 1
    return 0


def run_grade(course, args) -> int:
    from .autograde import RunOptions
    from .grade import grade, summary_table
    if args.workers is not None and args.workers < 1:
        raise CourseError("--workers must be at least 1")
    if min(args.cell_timeout, args.time_limit, args.memory, args.processes, args.cpu_time, args.max_output) <= 0:
        raise CourseError("time, memory, process and output limits must be positive")
    if args.no_sandbox:
        print("autograder grade: WARNING: --no-sandbox: student code runs unconfined with YOUR permissions; "
              "it can read and change everything you can (solutions, gradebook, other students' work). "
              "Use it only for submissions you trust.", file=sys.stderr)
    options = RunOptions(cell_timeout=args.cell_timeout, time_limit=args.time_limit,
                         verbose=args.verbose, sandbox=not args.no_sandbox, memory_mb=args.memory,
                         processes=args.processes,
                         cpu_seconds=args.cpu_time, max_output_mb=args.max_output)
    summary = grade(course, args.assignment, args.workers, args.force, options, only=args.student,
                    late_policy=args.late_policy, cluster=args.cluster)
    print(summary_table(summary))
    return 0


def run_extend(course, args) -> int:
    from . import lateness
    course.require_assignment(args.assignment)
    if bool(args.extensions) == bool(args.student) or bool(args.student) != bool(args.due):
        raise CourseError("give either STUDENT DUE or --extensions CSV")
    if args.extensions:
        wanted, source = lateness.read_extensions_csv(args.extensions), args.extensions
    else:
        wanted, source = {args.student: args.due}, ""
    for line in lateness.grant_extensions(course, args.assignment, wanted, source):
        print(line)
    for change in lateness.record_penalties(course, args.assignment, students=sorted(wanted)):
        print(f"re-recorded {printable(change.student)}: {change.lateness}, score "
              f"{change.score - change.before:g} -> {change.score - change.after:g} "
              f"({lateness.load_policy(course, args.assignment)})")
    return 0


def run_feedback(course, args) -> int:
    from .feedback import generate_feedback
    report = generate_feedback(course, args.assignment, args.canvas_download)
    for student, reason in report.failed:
        print(f"no feedback for {printable(student)}: {printable(reason)}", file=sys.stderr)
    released = " and released to the exchange" if course.exchange_root and report.written else ""
    print(f"feedback for {len(report.written)} students in {course.course_dir / 'feedback'}{released}")
    if report.canvas_zip:
        for student in report.not_in_download:
            print(f"not in the Canvas download (not in the zip): {printable(student)}")
        print(f"wrote {report.canvas_zip}: upload it with Canvas' Re-Upload Submissions")
    if report.failed:
        total = len(report.written) + len(report.failed)
        print(f"autograder feedback: {len(report.failed)} of {total} students got no feedback (reasons above)",
              file=sys.stderr)
        return 1
    return 0


def run_export(course, args) -> int:
    from .export import export
    for path in export(course, args.out):
        print(f"wrote {path}")
    return 0


def run_report(course, args) -> int:
    from .report import write_report
    print(f"wrote {write_report(course, args.assignment, args.format, args.out)}")
    return 0


def run_formgrader(course, args) -> int:
    from .formgrader import run_formgrader
    run_formgrader(course, args.port, args.ip)  # returns only by an error (CourseError)
    return 1


def run_manual(course, args) -> int:
    from .manual import export_manual, import_manual
    if args.manual_step == "export":
        path, rows, waiting = export_manual(course, args.assignment, args.out)
        print(f"wrote {path}: {rows} answers graded by hand, {waiting} waiting for a grade")
    else:
        scores, comments, unchanged = import_manual(course, args.assignment, args.csv)
        print(f"imported {args.csv}: {scores} scores and {comments} comments written; "
              f"rows left as they were: {unchanged}")
    return 0


STEPS = {"release": run_release, "collect": run_collect, "grade": run_grade, "extend": run_extend,
         "feedback": run_feedback, "export": run_export, "report": run_report, "formgrader": run_formgrader,
         "manual": run_manual, "publish": run_publish}
