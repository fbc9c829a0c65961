"""Stage 5, judge: recorded values → typed verdicts, points and a status.

Runs in the trusted process. Each graded function earns its points only if every case,
visible and hidden, matches the reference (``verdict.mismatch``) and no rule of its check
was broken, whether seen in the answers' source (plan stage) or reported by the runner
while the function ran. Every case gets a ``verdict.CaseVerdict``; the run's own fate
(timeout, memory, disk, crash, a broken protocol) becomes the status, and what was odd but
gradable its notes. Nothing here turns text from the sandbox into a student's words.
"""
import dataclasses

from lectlib.homework import rules as rules_module

from autograder.status import STUDENT_WORDS, Note, Status
from autograder.verdict import CaseKind, CaseVerdict, InstructorText, inert, mismatch

OUTCOME_KINDS = {"raised": CaseKind.RAISED, "not-defined": CaseKind.NOT_DEFINED, "not-written": CaseKind.NOT_WRITTEN,
                 "timed-out": CaseKind.TIMED_OUT, "forbidden": CaseKind.FORBIDDEN}


def rule_title(name):
    """A rule's name as a student's page shows it ("by hand: no autodiff")."""
    return getattr(rules_module, "RULE_TITLES", {}).get(name, name)


@dataclasses.dataclass
class CheckResult:
    """One graded function's verdict: its ``cases`` (every case, in the manifest's order,
    as far as they were judged), the ``rules`` it broke (rule names), or ``not_run`` (the
    status kind that kept it from running at all). ``detail``: the instructor's words."""
    grade_id: str
    function: str
    points: float
    max_points: float
    cases: tuple = ()
    rules: tuple = ()
    not_run: str | None = None
    detail: InstructorText = InstructorText("")

    def __post_init__(self):
        if not isinstance(self.detail, InstructorText):
            self.detail = InstructorText(self.detail)
        self.cases, self.rules = tuple(self.cases), tuple(self.rules)

    @property
    def passed(self):
        return self.points >= self.max_points

    def first_failure(self):
        return next((case for case in self.cases if not case.passed), None)

    def student_text(self):
        """The verdict in fixed words, labels and rule titles only."""
        if self.rules:
            return "not judged: broke the rule " + ", ".join(f"'{rule_title(r)}'" for r in self.rules)
        if self.not_run:
            return f"not graded: {STUDENT_WORDS[self.not_run]}"
        failed = self.first_failure()
        if failed is not None:
            return failed.student_text()
        hidden = sum(case.hidden for case in self.cases)
        return (f"all {len(self.cases)} case{'s' if len(self.cases) != 1 else ''} passed "
                f"({len(self.cases) - hidden} visible, {hidden} hidden)")

    @property
    def message(self):
        """The instructor's one line: the student's words plus what the sandbox reported."""
        failed = self.first_failure()
        extra = self.detail.for_instructor()
        if not self.rules and not self.not_run and failed is not None:
            extra = failed.instructor_text()
        return inert(f"{self.function}: {self.student_text()}" + (f" [{extra}]" if extra else ""))

    def to_json(self):
        return {"grade_id": self.grade_id, "function": self.function, "points": self.points,
                "max_points": self.max_points, "cases": [c.to_json() for c in self.cases], "rules": list(self.rules),
                "not_run": self.not_run, "detail": self.detail.to_json()}

    @classmethod
    def from_json(cls, data):
        return cls(data["grade_id"], data["function"], data["points"], data["max_points"],
                   tuple(CaseVerdict.from_json(c) for c in data.get("cases", ())), tuple(data.get("rules", ())),
                   data.get("not_run"), InstructorText(data.get("detail", "")))


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
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["status"] = self.status.to_json()
        data["checks"] = [c.to_json() for c in self.checks]
        return data

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["checks"] = [CheckResult.from_json(c) for c in data["checks"]]
        data["status"] = Status.from_json(data["status"])
        return cls(**data)


def zero_result(student, assignment, checks, status, notebook_name=None, digest=None):
    """A result of no points for every check, none of which ran because of ``status``."""
    results = [CheckResult(c.grade_id, c.function, 0.0, float(c.points), not_run=status.kind)
               for c in checks.values()]
    return GradeResult(student, assignment, 0.0, float(sum(c.points for c in checks.values())), status, results,
                       digest, notebook_name)


def case_verdict(case, outcome, expected, check):
    """The ``CaseVerdict`` of one case: ``outcome`` is a ``decode.CallOutcome`` or ``None``
    (the call was never made), ``expected`` the reference value."""
    if outcome is None:
        return CaseVerdict(case.label, case.hidden, CaseKind.NOT_REACHED)
    if outcome.kind != "ok":
        kind = OUTCOME_KINDS.get(outcome.kind, CaseKind.RAISED)
        exception = outcome.exception if kind is CaseKind.RAISED else None
        return CaseVerdict(case.label, case.hidden, kind, exception, detail=outcome.detail)
    found = mismatch(outcome.value, expected, check.rtol, check.atol)
    if found is None:
        return CaseVerdict(case.label, case.hidden, CaseKind.PASSED)
    kind, words = found
    return CaseVerdict(case.label, case.hidden, kind, expected=None if case.hidden else words)


def describe_run(run, recorded, limits):
    """The ``Status`` of the run itself, or ``None`` when it ran to its end."""
    where = f" ({recorded.last_step.for_instructor(60)})"
    if recorded.violation:
        return Status("protocol-violation", f"the notebook broke the grader's protocol: {recorded.violation}")
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
    if recorded.disk_full is not None:
        return Status("disk", f"the notebook filled its scratch folder ({limits.disk_bytes / 2**20:g} MiB) and was "
                              f"stopped ({recorded.disk_full.for_instructor(60)})")
    if run.status == "ok" and recorded.finished:
        return None
    if recorded.problem:
        return Status("crashed", f"the notebook stopped in the middle of a message{where}")
    code = run.returncode
    if code is not None and (code < 0 or 128 < code < 160):
        # bubblewrap reports a child killed by signal N as exit code 128 + N.
        number = -code if code < 0 else code - 128
        return Status("crashed", f"the notebook's process was killed by signal {number}{where}")
    if code == 0:
        return Status("crashed", f"the notebook ended the grading process early (exit code 0){where}")
    return Status("crashed", f"the notebook ended the grading process (exit code {code}){where}")


def rule_violations(checks, plan, recorded):
    """``({check grade id: [rule name]}, [instructor detail], [notes])``: the rules each
    check's function broke, from the answers' source (``plan.static``) and from the run
    (``recorded``), and uses outside any graded function."""
    broken, details, notes = {}, [], []
    for gid, violations in plan.static.items():
        for violation in violations:
            broken.setdefault(gid, []).append(violation.rule)
            details.append(rules_module.message(checks[gid].function, violation))
    by_answer = {check.answer: check for check in checks.values()}
    for event in recorded.violations:
        check = None
        if event["call"] is not None:
            check = checks.get(event["call"].rsplit("/", 1)[0])
        elif event["cell"] in plan.answer_cells:
            check = by_answer.get(plan.answer_cells[event["cell"]])
        if check is None or event["rule"] not in {rule.name for rule in check.rules}:
            notes.append(Note("rule-outside", f"uses {event['used'].for_instructor(80)} (rule {event['rule'][:50]})"))
            continue
        broken.setdefault(check.grade_id, []).append(event["rule"])
        details.append(f"{check.function}: uses {event['used'].for_instructor(80)} while it ran")
    return ({gid: tuple(dict.fromkeys(rules)) for gid, rules in broken.items()}, details,
            list(dict.fromkeys(notes)))


def judge(checks, references, plan, recorded, run, limits, notes=()):
    """``(check results, score, status)`` of one submission that ran.

    ``checks``: ``{grade_id: Check}`` in the notebook's order; ``references``:
    ``{grade_id: [reference value per case]}``; ``plan``: its ``Plan``; ``recorded``: the
    decoded ``Recorded``; ``run``: the sandbox's ``RunResult``; ``notes``: what earlier
    stages found odd (instructor sentences or ``Note``s)."""
    run_problem = describe_run(run, recorded, limits)
    if run_problem is not None and run_problem.kind == "protocol-violation":
        result = zero_result("", "", checks, run_problem)
        return result.checks, 0.0, run_problem.with_notes(*notes)
    broken, details, violation_notes = rule_violations(checks, plan, recorded)
    results, score = [], 0.0
    for gid, check in checks.items():
        outcomes = [recorded.calls.get(f"{gid}/{index}") for index in range(len(check.cases))]
        cases = tuple(case_verdict(case, outcome, expected, check)
                      for case, outcome, expected in zip(check.cases, outcomes, references[gid]))
        rules = broken.get(gid, ())
        passed = not rules and all(case.passed for case in cases)
        points = float(check.points) if passed else 0.0
        score += points
        detail = "; ".join(d for d in details if d.startswith(f"{check.function}: "))
        results.append(CheckResult(gid, check.function, points, float(check.points), cases, rules, detail=detail))
    extra = list(notes)
    if run_problem is not None:
        status = run_problem
        extra += [Note("rule", d) for d in details]
    elif details:
        status = Status("forbidden", "; ".join(details))
    else:
        status = Status("ok")
    extra += violation_notes
    if recorded.printed and recorded.printed > 10_000_000:
        extra.append(Note("printed", f"printed {recorded.printed / 1e6:.0f} MB of output (discarded)"))
    if run.hit_process_limit and run.status != "process-limit":
        extra.append(Note("process-limit", f"hit the limit of {limits.pids} processes"))
    errors = recorded.cell_errors
    if errors:
        shown = "; ".join(f"cell {cell}: {message.for_instructor(80)}"
                          for cell, name, message in errors[:2])
        more = f" and {len(errors) - 2} more" if len(errors) > 2 else ""
        extra.append(Note("cell-errors", f"errors in {len(errors)} cell{'s' if len(errors) > 1 else ''} "
                                         f"({shown}{more})"))
    return results, score, status.with_notes(*extra)
