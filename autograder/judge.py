"""Stage 5, judge: recorded values → verdicts, points and a status.

Runs in the trusted process. Each graded function earns its points only if every case,
visible and hidden, matches the reference (``lectlib.homework.compare``) and no rule of
its check was broken, whether seen in the answer's source (plan stage) or reported by
the runner while the function ran. The run's own fate (timeout, memory, disk, crash)
becomes the status; what was odd but gradable becomes its notes.
"""
import dataclasses

from lectlib.homework import rules as rules_module

from autograder import checks as checks_module
from autograder.status import Status


@dataclasses.dataclass
class CheckResult:
    grade_id: str
    function: str
    points: float
    max_points: float
    message: str


@dataclasses.dataclass
class GradeResult:
    student: str
    assignment: str
    score: float
    max_score: float
    status: Status
    checks: list
    digest: str | None = None
    notebook_name: str | None = None
    answers: dict = dataclasses.field(default_factory=dict)   # grade_id -> the student's answer source
    seconds: float = 0.0                                       # wall time of the sandboxed run
    secret: str | None = None                                  # nbgrader's submission secret, if submitted with one

    def to_json(self):
        data = dataclasses.asdict(self)
        data["status"] = self.status.to_json()
        return data

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["checks"] = [CheckResult(**c) for c in data["checks"]]
        data["status"] = Status.from_json(data["status"])
        return cls(**data)


def zero_result(student, assignment, checks, status, notebook_name=None, digest=None):
    """A result of no points for every check, each saying ``status``."""
    results = [CheckResult(c.grade_id, c.function, 0.0, float(c.points), status.text()) for c in checks.values()]
    return GradeResult(student, assignment, 0.0, float(sum(c.points for c in checks.values())), status, results,
                       digest, notebook_name)


def verdict(check, results, references):
    """Judges one graded function.

    Arguments: ``check``; ``results`` a list, one per case, of ``("ok", value)`` or
    ``("error", message)``; ``references`` the reference value of each case.
    Returns: ``(passed, message)``; the message describes the first failing case (hidden
    cases by label only) or summarizes the passes.
    """
    hidden_count = sum(case.hidden for case in check.cases)
    for case, (status, value), expected in zip(check.cases, results, references):
        name = f"{'hidden' if case.hidden else 'visible'} case '{case.label}'"
        if status != "ok":
            return False, f"{check.function}: {name}: {value}"
        problem = checks_module.compare(value, expected, check.rtol, check.atol, show_values=not case.hidden)
        if problem:
            return False, f"{check.function}: {name}: {problem}"
    visible = len(check.cases) - hidden_count
    return True, f"{check.function}: all {len(check.cases)} cases passed ({visible} visible, {hidden_count} hidden)"


def describe_run(run, recorded, limits):
    """The ``Status`` of the run itself, or ``None`` when it ran to its end."""
    where = f" ({recorded.last_step})" if recorded.last_step else ""
    if run.status == "timeout":
        return Status("timeout", f"the notebook ran longer than {limits.wall_seconds:g} s and was stopped{where}")
    if run.status == "memory":
        return Status("memory", f"the notebook used more than {limits.memory_bytes / 2**30:g} GiB and was stopped{where}")
    if run.status == "output-limit":
        if run.results_overflowed:
            return Status("output-limit", f"the notebook sent back more than {limits.result_bytes / 2**20:g} MiB "
                                          f"of results and was stopped{where}")
        return Status("output-limit", f"the notebook wrote more than {limits.output_bytes} bytes to the terminal{where}")
    if run.status == "process-limit":
        return Status("process-limit", f"the notebook started more than {limits.pids} processes{where}")
    if recorded.disk_full:
        return Status("disk", f"the notebook filled its scratch folder ({limits.disk_bytes / 2**20:g} MiB) and was "
                              f"stopped ({recorded.disk_full})")
    if run.status == "ok" and recorded.finished:
        return None
    if recorded.problem:
        return Status("crashed", f"the notebook broke the channel its results come back on ({recorded.problem})"
                                 f"{where}")
    code = run.returncode
    if code is not None and (code < 0 or 128 < code < 160):
        # bubblewrap reports a child killed by signal N as exit code 128 + N.
        number = -code if code < 0 else code - 128
        return Status("crashed", f"the notebook's process was killed by signal {number}{where}")
    if code == 0:
        return Status("crashed", f"the notebook ended the grading process early (exit code 0){where}")
    return Status("crashed", f"the notebook ended the grading process (exit code {code}){where}")


def rule_violations(checks, plan, recorded):
    """``({check grade id: [message]}, [notes])``: what each check's function used that its
    rules forbid, from the source (``plan.static``) and from the run (``recorded``)."""
    found = {}
    for gid, violations in plan.static.items():
        for violation in violations:
            found.setdefault(gid, []).append(rules_module.message(checks[gid].function, violation))
    by_answer = {check.answer: check for check in checks.values()}
    reasons = plan.header.get("reasons", {})
    notes = []
    for event in recorded.violations:
        check = None
        if event["call"] is not None:
            check = checks.get(event["call"].rsplit("/", 1)[0])
        elif event["cell"] in plan.answer_cells:
            check = by_answer.get(plan.answer_cells[event["cell"]])
        line = event["line"]
        if check is not None and event["cell"] is not None and plan.answer_cells.get(event["cell"]) != check.answer:
            where = f" (line {line} of cell {event['cell']})" if line else f" (cell {event['cell']})"
        else:
            where = f" (line {line})" if line else ""
        reason = reasons.get(event["rule"], "a rule of this assignment forbids it")
        if check is None or event["rule"] not in {rule.name for rule in check.rules}:
            cell = f"cell {event['cell']}: " if event["cell"] else ""
            notes.append(f"{cell}uses {event['used']}{where}; {reason}")
            continue
        text = f"{check.function}: uses {event['used']}{where}; {reason}"
        if text not in found.get(check.grade_id, []):
            found.setdefault(check.grade_id, []).append(text)
    return found, list(dict.fromkeys(notes))


def judge(checks, references, plan, recorded, run, limits, notes=()):
    """``(check results, score, status)`` of one submission that ran.

    ``checks``: ``{grade_id: Check}`` in the notebook's order; ``references``:
    ``{grade_id: [reference value per case]}``; ``plan``: its ``Plan``; ``recorded``: the
    decoded ``Recorded``; ``run``: the sandbox's ``RunResult``; ``notes``: what earlier
    stages found odd."""
    run_problem = describe_run(run, recorded, limits)
    if run.status == "ok" and recorded.problem and run_problem is None:
        notes = list(notes) + [f"some results could not be read back ({recorded.problem})"]
    violations, violation_notes = rule_violations(checks, plan, recorded)
    results, score = [], 0.0
    for gid, check in checks.items():
        if gid in violations:
            results.append(CheckResult(gid, check.function, 0.0, float(check.points), violations[gid][0]))
            continue
        per_case = []
        for index in range(len(check.cases)):
            entry = recorded.calls.get(f"{gid}/{index}")
            if entry is None:
                stopped = run_problem.text() if run_problem else "the notebook stopped before this check"
                entry = ("error", f"not reached: {stopped}")
            per_case.append(entry)
        passed, message = verdict(check, per_case, references[gid])
        points = float(check.points) if passed else 0.0
        score += points
        results.append(CheckResult(gid, check.function, points, float(check.points), message))
    broken = [message for gid in checks if gid in violations for message in violations[gid]]
    extra = list(notes)
    if run_problem is not None:
        status = run_problem
        extra += broken
    elif broken:
        status = Status("forbidden", "; ".join(broken))
    else:
        status = Status("ok")
    extra += violation_notes
    if recorded.printed and recorded.printed > 10_000_000:
        extra.append(f"printed {recorded.printed / 1e6:.0f} MB of output (discarded)")
    if run.hit_process_limit and run.status != "process-limit":
        extra.append(f"hit the limit of {limits.pids} processes")
    errors = recorded.cell_errors
    if errors:
        shown = "; ".join(f"cell {cell}: {error[:120]}" for cell, error in errors[:2])
        more = f" and {len(errors) - 2} more" if len(errors) > 2 else ""
        extra.append(f"errors in {len(errors)} cell{'s' if len(errors) > 1 else ''} ({shown}{more})")
    return results, score, status.with_notes(*extra)
