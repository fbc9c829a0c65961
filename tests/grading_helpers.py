"""Building courses and submissions for the grading tests."""
import atexit
import csv
import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder import checks

ROOT = Path(__file__).resolve().parents[1]


def _sandbox_problems():
    from autograder.sandbox import sandbox_problems

    return sandbox_problems()


# Where the machine cannot isolate student code (no bubblewrap, no writable cgroups), the
# sandbox tests are skipped with this reason, shown in pytest's summary, and the pipeline
# tests grade with --unsafe so that everything else is still checked.
SANDBOX_PROBLEMS = _sandbox_problems()
NO_SANDBOX = "the grading sandbox cannot be set up here: " + "; ".join(SANDBOX_PROBLEMS)
SANDBOX_FLAGS = ["--unsafe"] if SANDBOX_PROBLEMS else []
ASSIGNMENTS = checks.ASSIGNMENTS

# For every graded function, a bug a student could make, as (text in the reference answer,
# its buggy replacement). Each costs exactly that function's points.
PLANTED_BUGS = {
    "scans": {
        "scan": ("h = f(h, x)\n        states.append(h)", "states.append(h)\n        h = f(h, x)"),
        "linear_memory": ("jnp.ones(1, x.dtype), x", "jnp.zeros(1, x.dtype), x"),
        "memory_states": ("h = step(h, x, gamma, theta)\n        return h, h", "return step(h, x, gamma, theta), h"),
        "apply_outputs": ("zip(hs, xs)", "zip(hs, xs[::-1])"),
        "combine": ("a2 * b1 + b2", "a1 * b2 + b1"),
        "associative_states": ("b = jnp.asarray(b).at[0].add(a[0] * h0)", "b = jnp.asarray(b)"),
    },
    "losses": {
        "per_step_square_error": ("jnp.sum((y_hat - y) ** 2, axis=-1)", "jnp.mean((y_hat - y) ** 2, axis=-1)"),
        "clock_loss": ("jnp.mean(jnp.sum(", "jnp.sum(jnp.sum("),
        "last_step_cross_entropy": ("log_softmax(logits[-1])", "log_softmax(logits[0])"),
        "lengths_to_mask": ("jnp.arange(T)[None, :] <", "jnp.arange(T)[None, :] <="),
        "masked_sequence_mse": ("/ jnp.sum(mask, axis=1)", "/ mask.shape[1]"),
    },
    "bptt": {
        "elman_forward": ('return hs, hs @ params["V"].T + params["c"]', 'return hs, hs @ params["V"].T'),
        "elman_loss": ("0.5 * jnp.sum", "jnp.sum"),
        "elman_backward": ("grad_h = W.T @ grad_a_next + V.T @ grad_os[t]", "grad_h = V.T @ grad_os[t]"),
        "clip_by_global_norm": ("scale = jnp.where(norm > max_norm, max_norm / jnp.maximum(norm, 1e-30), 1.0)",
                                "scale = max_norm / jnp.maximum(norm, 1e-30)"),
        "truncated_bptt": ("grads, h = grads_fn(params, xs[start:start + k], ys[start:start + k], h)",
                           "grads, _ = grads_fn(params, xs[start:start + k], ys[start:start + k], h0)"),
    },
    "gated": {
        "gru_step": ("return z * h + (1 - z) * candidate", "return (1 - z) * h + z * candidate"),
        "gru_states": ("return h_new, h_new", "return h_new, h"),
        "sequence_nll": ("- jnp.max(logits, axis=-1, keepdims=True)", "- jnp.max(logits)"),
        "perplexity": ("jnp.exp(jnp.mean(nll))", "jnp.exp(jnp.sum(nll))"),
        "sample_next": ("jnp.asarray(logits) / temperature", "jnp.asarray(logits)"),
        "train_step": ("scale = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-30))", "scale = 1.0"),
    },
    "ssm": {
        "zoh": ("(A_bar - jnp.eye(A.shape[0])) @ B", "A_bar @ B"),
        "ssm_kernel": ("kernel.append(C @ power_times_b)\n        power_times_b = A_bar @ power_times_b",
                       "power_times_b = A_bar @ power_times_b\n        kernel.append(C @ power_times_b)"),
        "lti_by_convolution": ("n=2 * T, axis=0)[:T]", "n=T, axis=0)[:T]"),
        "selective_step": ("jnp.exp(delta * A) * h", "jnp.exp(A) * h"),
        "selective_scan": ("later[0] * earlier[1] + later[1]", "earlier[0] * later[1] + earlier[1]"),
    },
}

# The points of each graded function, read from the manifests (autograder/checks/<assignment>.py),
# which release checks against the source notebooks.
POINTS = {a: {check.function: check.points for check in checks.load(a).values()} for a in ASSIGNMENTS}


_RELEASED = {}


def new_course(folder):
    """A course directory with the course's solutions, released.

    nbgrader releases once per test process, into a template folder; every course is a
    copy of it (solutions, release notebooks and gradebook), so each test module still
    grades in a course of its own."""
    from autograder.course import Course

    template = _RELEASED.get("template")
    if template is None or not (template / "gradebook.db").exists():
        template = Path(tempfile.mkdtemp(prefix="released-course-")) / "course"
        atexit.register(shutil.rmtree, template.parent, True)
        template.mkdir()
        shutil.copytree(ROOT / "solutions", template / "solutions")
        Course(template).release()
        _RELEASED["template"] = template
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, folder, dirs_exist_ok=True)
    return Course(folder)


def reference_notebook(assignment):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def with_answer(assignment, function, source, notebook=None):
    """``notebook`` (the reference by default) with ``function``'s answer cell replaced by ``source``."""
    notebook = notebook or reference_notebook(assignment)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == function:
            cell.source = source
            return notebook
    raise AssertionError(f"no answer cell {function} in {assignment}")


def with_bug(assignment, function):
    """The reference notebook with one planted bug in ``function``'s answer cell."""
    notebook = reference_notebook(assignment)
    old, new = PLANTED_BUGS[assignment][function]
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == function:
            assert cell.source.count(old) == 1, f"the planted bug for {function} no longer fits its answer cell"
            cell.source = cell.source.replace(old, new)
            return notebook
    raise AssertionError(f"no answer cell {function} in {assignment}")


def submit(submissions, student, assignment, notebook=None, raw=None, name=None):
    """Puts a submission at ``submissions/student/assignment/name``."""
    path = submissions / student / assignment / (name or f"{assignment}.ipynb")
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        nbformat.write(notebook, path)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["student_id"], row["assignment"]): row for row in csv.DictReader(handle)}
