"""Grade: the autograding step end to end, for one assignment.

Choose the submissions that are new or changed since they were last graded
(all of them with ``force``), run them in parallel workers (``autograde.py``; or on a
Dask cluster, ``cluster.py``), record
each result as it arrives (``record.py``), show a progress line, and return
the rows of the summary table. The late policy (``lateness``) is the assignment's
stored one unless a new one is given: that one is stored and recorded again for
every submission graded before, from the gradebook, without running anything.
"""

import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from . import lateness
from .autograde import RunOptions, grade_submissions
from .course_folder import Course, CourseError, printable
from .record import Recorder, is_graded
from .release import ensure_in_gradebook


@dataclass
class Summary:
    rows: list        # (student, status, seconds, score, reason or note), sorted by student
    unchanged: int    # submissions skipped: already graded as they are
    seconds: float    # wall time of the whole step
    workers: int
    policy: str = ""  # the late policy in force, described
    policy_before: str = ""  # the policy it replaced, "" if unchanged
    rerecorded: list = field(default_factory=list)  # lateness.Change of submissions graded before


def grade(course: Course, assignment: str, workers: int | None = None, force: bool = False,
          options: RunOptions | None = None, progress=None, only: list | None = None,
          late_policy: str | None = None, cluster: str | None = None) -> Summary:
    """only: grade these students again (changed or not) and leave everyone else as recorded;
    late_policy: a new policy for the assignment (lateness.parse_policy), None to keep the stored one;
    cluster: a Dask scheduler's address, whose workers grade instead of local processes."""
    progress = progress or sys.stderr
    options = options or RunOptions()
    course.require_assignment(assignment)
    before = lateness.load_policy(course, assignment)
    policy = lateness.parse_policy(late_policy) if late_policy else before
    if only and policy != before:
        raise CourseError(f"a new late policy applies to every student of {assignment}: "
                          f"give --late-policy without --student")
    students = course.submitted_students(assignment)
    if not students:
        raise CourseError(f"no submissions of {assignment} in {course.course_dir / 'submitted'}: "
                          f"run `autograder collect {assignment} ...` first")
    if only:
        unknown = sorted(set(only) - set(students))
        if unknown:
            raise CourseError(f"no submission of {assignment} from {', '.join(map(printable, unknown))}")
        students, force = sorted(set(only)), True
    started = time.perf_counter()
    if options.sandbox and not cluster:  # on a cluster each worker checks its own
        from .sandbox import SandboxUnavailable, check_sandbox
        try:
            progress.write(f"sandbox: {check_sandbox()}\n")
        except SandboxUnavailable as error:
            raise CourseError(str(error))
    ensure_in_gradebook(course, assignment)
    if policy != before:
        lateness.store_policy(course, assignment, policy)
    results = course.load_results(assignment)
    fingerprints = {s: course.fingerprint(s, assignment) for s in students}
    todo = {s: f for s, f in fingerprints.items() if force or not is_graded(results, s, f)}
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    rows = []
    if todo:
        dues = lateness.read_dues(course, assignment)
        dispatcher = nullcontext()
        if cluster:
            from .cluster import Cluster
            dispatcher = Cluster(cluster, options, progress)
            workers = dispatcher.workers
        with dispatcher, Recorder(course, assignment, policy) as recorder:
            key = course.secret_key()  # outside every sandbox: the secret inputs derive from it
            batch = (dispatcher.grade(course, assignment, todo, key) if cluster
                     else grade_submissions(course, assignment, todo, workers, options, key))
            show_progress(progress, 0, len(todo), 0, started)
            for graded in batch:
                recorder.record(graded)
                penalty = sum(p or 0 for p in graded.late_penalties.values())
                score = sum(s or 0 for s in graded.grades.values()) - penalty
                submitted = graded.timestamp or lateness.collected_time(course, assignment, graded.student)
                late = lateness.lateness_note(dues.seconds_late(graded.student, submitted), penalty)
                rows.append((graded.student, "failed" if graded.failure else "graded", graded.seconds,
                             None if graded.failure else score,
                             "; ".join(filter(None, [graded.failure or graded.note, late]))))
                show_progress(progress, len(rows), len(todo), sum(r[1] == "failed" for r in rows), started)
        progress.write("\n")
    rerecorded = lateness.record_penalties(course, assignment, policy, only)  # the others: a new policy, extension
    return Summary(sorted(rows), len(fingerprints) - len(todo), time.perf_counter() - started, workers,
                   policy.describe(), before.describe() if policy != before else "", rerecorded)


def show_progress(out, done: int, total: int, failed: int, started: float) -> None:
    width = 30
    filled = width * done // total
    elapsed = time.perf_counter() - started
    eta = f"  ETA {elapsed / done * (total - done):5.1f} s" if 0 < done < total else ""
    out.write(f"\rgrading [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
              f"  {failed} failed  {elapsed:5.1f} s{eta}")
    out.flush()


def summary_table(summary: Summary) -> str:
    lines = [f"{'student':<24} {'status':<7} {'seconds':>8} {'score':>7}  reason"]
    for student, status, seconds, score, reason in summary.rows:
        shown = "-" if score is None else f"{score:g}"
        lines.append(f"{printable(student):<24} {status:<7} {seconds:>8.1f} {shown:>7}  {printable(reason)}")
    graded = sum(row[1] == "graded" for row in summary.rows)
    for change in summary.rerecorded:
        lines.append(f"re-recorded {printable(change.student):<24} {change.lateness}: score "
                     f"{change.score - change.before:g} -> {change.score - change.after:g}")
    policy = f"; late policy: {summary.policy}" if summary.policy else ""
    if summary.policy_before:
        policy += (f", replacing {summary.policy_before}: recorded again for every submission graded before, "
                   f"from the gradebook (nothing run again)")
    lines.append(f"graded {graded}, failed {len(summary.rows) - graded}, unchanged {summary.unchanged}; "
                 f"total {summary.seconds:.1f} s with {summary.workers} worker(s){policy}")
    return "\n".join(lines)
