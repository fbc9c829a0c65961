"""Stage 2, plan: what runs in the sandbox for one submission, and what its answers'
source shows before anything runs.

The plan is the student's own cells in their order, the instructor's version of every
locked cell (also restored where the student deleted it), and, where each test cell
stands, the trusted check's calls of the student's function with the check's rules. Test
cells as submitted never run; ``demo`` cells are skipped. Each graded function's closure
across every cell the student wrote is read against its check's rules
(``lectlib.homework.rules.closure_violations``) here, in the trusted process.
"""
import dataclasses
import secrets

from lectlib.homework import rules as rules_module

from autograder import wire
from autograder.read import grade_id

# Watched at run time besides the names the rules forbid: where JAX's autodiff is
# implemented, down to the traces that every JVP, VJP and linearization creates.
RUNTIME_WATCH = {
    "no-autodiff": ("jax._src.interpreters.ad.JVPTrace", "jax._src.interpreters.ad.LinearizeTrace",
                    "jax._src.interpreters.ad.jvp", "jax._src.interpreters.ad.linearize",
                    "jax._src.interpreters.ad.backward_pass", "jax._src.custom_derivatives.custom_vjp",
                    "jax._src.custom_derivatives.custom_jvp", "jax._src.custom_derivatives.custom_gradient"),
}


@dataclasses.dataclass
class Plan:
    header: dict                   # the wire message "plan" (without its blobs)
    blobs: list                    # the input arrays' bytes
    notes: list                    # what the student changed (deleted or duplicated cells)
    answer_cells: dict             # cell number (1-based, as the runner counts) -> answer grade id
    static: dict                   # check grade id -> [lectlib.homework.rules.ClosureViolation]
    calls: dict = dataclasses.field(default_factory=dict)   # call id -> its "args" frame (bytes)
    seal: bytes = b""                                         # the key that seals the runner's frames

    def message(self):
        """The plan as the bytes the runner reads first: cells and checks, no arguments."""
        return wire.frame(self.header, self.blobs)

    def sequence(self):
        """``[(call id, cells run before it)]`` in the order the runner must ask for them."""
        order, cells = [], 0
        for step in self.header["steps"]:
            if "cell" in step:
                cells += 1
            else:
                order += [(f"{step['check']}/{index}", cells) for index in range(step["calls"])]
        return order


def cell_kinds(release_notebook):
    """``[(grade_id, kind, source)]`` of the release's code cells; kind is ``"answer"``,
    ``"test"``, ``"fixed"`` (a locked cell that the instructor wrote) or ``"demo"`` (a locked
    cell tagged ``demo``: an ungraded demonstration that grading does not run)."""
    kinds = []
    for cell in release_notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            kind = "answer"
        elif meta.get("grade"):
            kind = "test"
        else:
            kind = "fixed"
        if kind == "fixed" and "demo" in cell.metadata.get("tags", []):
            kind = "demo"      # an ungraded demonstration: students run it, grading skips it
        kinds.append((meta.get("grade_id"), kind, cell.source))
    return kinds


def watch_list(checks):
    """``({rule name: [dotted names watched at run time]}, {rule name: reason})`` for the
    rules of ``checks``."""
    watch, reasons = {}, {}
    for check in checks.values():
        for rule in check.rules:
            names = [n for n in rule.forbidden if not n.startswith(("torch", "autograd"))]
            # Public names first: a function exported under several names is reported by its public one.
            watch[rule.name] = sorted(set(names) | set(RUNTIME_WATCH.get(rule.name, ())),
                                      key=lambda n: ("._" in n, n.count("."), n))
            reasons[rule.name] = rule.reason
    return watch, reasons


def build_plan(notebook, release_notebook, checks, cell_seconds=60.0, scratch_bytes=0):
    """The ``Plan`` for one readable submitted ``notebook``."""
    source = cell_kinds(release_notebook)
    position = {gid: i for i, (gid, _, _) in enumerate(source)}
    blobs, steps, notes, calls = [], [], [], {}
    answer_cells, static = {}, {}
    emitted, seen_answers = set(), {}
    student_cells = []           # [(cell number, source)] of the cells the student wrote

    def add_cell(text, answer=None, student=False):
        steps.append({"cell": text})
        number = sum("cell" in s for s in steps)
        if answer is not None:
            answer_cells[number] = answer
        if student:
            student_cells.append((number, text))

    def emit_source(i):
        gid, kind, text = source[i]
        emitted.add(i)
        if kind == "fixed":
            add_cell(text)
        elif kind == "test":
            steps.append(check_step(checks[gid], calls))
        elif kind == "answer":
            notes.append(f"the answer cell '{gid}' was deleted")

    def catch_up_to(j):
        for i in range(j):
            if i not in emitted:
                emit_source(i)

    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        gid = grade_id(cell)
        if gid not in position:
            add_cell(cell.get("source", ""), student=True)        # a cell the student added
            continue
        i = position[gid]
        kind = source[i][1]
        if kind == "answer":
            catch_up_to(i)
            seen_answers[gid] = seen_answers.get(gid, 0) + 1
            emitted.add(i)
            add_cell(cell.get("source", ""), gid, student=True)
        elif i not in emitted:
            catch_up_to(i)
            emit_source(i)
    catch_up_to(len(source))
    for check in checks.values():
        # By hand is read over the answer's whole closure: every cell the student wrote.
        found = rules_module.closure_violations(student_cells, check.function, check.rules)
        if found:
            static[check.grade_id] = found
    notes += [f"the answer cell '{gid}' appears {n} times; all ran in order"
              for gid, n in seen_answers.items() if n > 1]
    watch, reasons = watch_list(checks)
    seal = secrets.token_bytes(32)
    header = {"kind": "plan", "steps": steps, "cell_seconds": float(cell_seconds), "scratch_bytes": int(scratch_bytes),
              "watch": watch, "reasons": reasons, "seal": seal.hex()}
    return Plan(header, blobs, notes, answer_cells, static, calls, seal)


def check_step(check, calls):
    """The step that calls the student's function on every case of ``check``: the plan
    names the function and the number of calls; each call's arguments go into ``calls``
    (call id -> an ``args`` frame), sent only when the runner makes that call."""
    for index in range(len(check.cases)):
        blobs = []
        call = f"{check.grade_id}/{index}"
        args = [wire.encode_value(a, blobs, plain_numbers=True) for a in check.case_args(index)]
        calls[call] = wire.frame({"kind": "args", "id": call, "args": args}, blobs)
    return {"check": check.grade_id, "function": check.function, "rules": [rule.name for rule in check.rules],
            "calls": len(check.cases)}
