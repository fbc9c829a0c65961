"""``autograder similarity``: copies are flagged, honest work is not.

The course is built in ``tmp_path`` (``grading_helpers.new_course``); the submissions are
the reference solutions, a differently written correct variant (checked correct here on
every case of the assignment's checks), copies of those with renamed variables and
reordered helper functions, starter code, and an answer pasted from ``lectlib``.
"""
import csv
import re

import numpy as np
import pytest

from autograder import checks
from autograder import cli
from autograder import similarity
from lectlib.homework.compare import compare
from grading_helpers import ROOT, new_course, reference_notebook, submit, with_answer

# A correct "scans" written another way than the reference: numpy arrays filled in place,
# the bias row split off, helper functions inside the answer cells, the associative scan
# seeded through a prepended element.
VARIANT_SCANS = {
    "scan": '''def scan(f, h, xs):
    """All states of h_t = f(h_{t-1}, x_t)."""
    count = len(xs)
    result = None
    for t in range(count):
        h = f(h, xs[t])
        if result is None:
            result = np.empty((count,) + np.shape(h), dtype=np.asarray(h).dtype)
        result[t] = np.asarray(h)
    return result
''',
    "linear_memory": '''def linear_memory(h, x, gamma, theta):
    """One step of the linear memory."""
    bias, weights = theta[0], theta[1:]
    return gamma * h + bias + x @ weights
''',
    "memory_states": '''def memory_states(step, xs, gamma, theta, h0):
    """All states, with jax.lax.scan."""
    advance = lambda carry, inputs: (step(carry, inputs, gamma, theta),) * 2
    final, trajectory = jax.lax.scan(advance, h0, xs)
    del final
    return trajectory
''',
    "apply_outputs": '''def apply_outputs(g, hs, xs):
    """Outputs stacked."""
    outputs = list(map(g, hs, xs))
    return np.array([np.asarray(o) for o in outputs])
''',
    "combine": '''def combine(earlier, later):
    """The composition of two affine maps."""
    (slope_first, shift_first), (slope_then, shift_then) = earlier, later
    slope = slope_then * slope_first
    shift = slope_then * shift_first + shift_then
    return slope, shift
''',
    "associative_states": '''def _with_start(values, start):
    return jnp.concatenate([jnp.asarray(start)[None], jnp.asarray(values)])


def associative_states(operator, a, b, h0):
    """All states, with jax.lax.associative_scan."""
    ones = jnp.ones_like(jnp.asarray(h0))
    coefficients = _with_start(a, ones)
    offsets = _with_start(b, h0)
    prefix = jax.lax.associative_scan(operator, (coefficients, offsets))
    return prefix[1][1:]
''',
}

VARIANT_LOSSES = {
    "per_step_square_error": '''def per_step_square_error(y_hat, y):
    """Square error per step."""
    diff = np.asarray(y_hat) - np.asarray(y)
    return np.einsum("td,td->t", diff, diff)
''',
    "clock_loss": '''def clock_loss(y_hat, y):
    """Mean square error over steps."""
    return per_step_square_error(y_hat, y).mean()
''',
    "last_step_cross_entropy": '''def last_step_cross_entropy(logits, label):
    """Cross-entropy of the last step."""
    final = logits[-1]
    return jax.scipy.special.logsumexp(final) - final[label]
''',
    "lengths_to_mask": '''def lengths_to_mask(lengths, T):
    """1 on the real steps of each sequence."""
    return np.array([[1.0 if t < n else 0.0 for t in range(T)] for n in np.asarray(lengths)], dtype=np.float32)
''',
    "masked_sequence_mse": '''def masked_sequence_mse(y_hat, y, mask):
    """Masked mean square error."""
    per_step = ((np.asarray(y_hat) - np.asarray(y)) ** 2).sum(axis=2)
    totals = (per_step * mask).sum(axis=1)
    counts = np.asarray(mask).sum(axis=1)
    return (totals / counts).mean()
''',
}

VARIANT_GATED = {
    "gru_step": '''def gru_step(params, h, x):
    """One GRU step."""
    def affine(gate, state):
        return params[f"U_{gate}"] @ x + params[f"W_{gate}"] @ state + params[f"b_{gate}"]

    update = jax.nn.sigmoid(affine("z", h))
    reset = jax.nn.sigmoid(affine("r", h))
    proposal = jnp.tanh(affine("h", reset * h))
    return proposal + update * (h - proposal)
''',
    "gru_states": '''def gru_states(params, xs, h0):
    """All states, by jax.lax.scan."""
    advance = lambda state, x: (gru_step(params, state, x),) * 2
    return jax.lax.scan(advance, jnp.asarray(h0), jnp.asarray(xs))[1]
''',
    "sequence_nll": '''def sequence_nll(logits, targets):
    """Mean negative log-likelihood per character."""
    logp = jax.nn.log_softmax(jnp.asarray(logits))
    picked = jnp.take_along_axis(logp, jnp.asarray(targets)[:, None], axis=1)
    return -picked.mean()
''',
    "perplexity": '''def perplexity(logits, targets):
    """exp of the mean NLL."""
    return jnp.exp(sequence_nll(logits, targets))
''',
    "sample_next": '''def sample_next(key, logits, temperature):
    """The next character, drawn at a temperature."""
    scaled = jnp.asarray(logits) / temperature
    return jax.random.categorical(jnp.asarray(key), scaled)
''',
    "train_step": '''def train_step(params, xs, targets, h0, learning_rate, max_norm):
    """One clipped SGD step."""
    def objective(theta):
        states = gru_states(theta, xs, h0)
        return sequence_nll(states @ theta["V"].T + theta["c"][None, :], targets)

    g = jax.grad(objective)(params)
    total = jnp.sqrt(sum(jnp.vdot(v, v) for v in g.values()))
    factor = jnp.minimum(1.0, max_norm / jnp.maximum(total, 1e-30))
    return jax.tree_util.tree_map(lambda w, d: w - learning_rate * factor * d, params, g)
''',
}
VARIANTS = {"scans": VARIANT_SCANS, "losses": VARIANT_LOSSES, "gated": VARIANT_GATED}

# Written by a student with helpers of their own ...
ORIGINAL_BPTT_BACKWARD = '''def _forward_states(U, W, b, xs, h0):
    states = [h0]
    for x in xs:
        states.append(jnp.tanh(b + W @ states[-1] + U @ x))
    return states


def _accumulate(total, name, value):
    total[name] = total[name] + value
    return total


def _output_errors(V, c, states, ys):
    return [V @ s + c - y for s, y in zip(states[1:], ys)]


def elman_backward(params, xs, ys, h0):
    """Gradients of the Elman square-error loss, by hand. Returns a dict like params."""
    U, W, b, V, c = params["U"], params["W"], params["b"], params["V"], params["c"]
    states = _forward_states(U, W, b, xs, h0)
    errors = _output_errors(V, c, states, ys)
    total = {k: jnp.zeros_like(v) for k, v in params.items()}
    delta_next = jnp.zeros_like(h0)
    for t in range(len(xs) - 1, -1, -1):
        delta = (1 - states[t + 1] ** 2) * (W.T @ delta_next + V.T @ errors[t])
        total = _accumulate(total, "c", errors[t])
        total = _accumulate(total, "V", jnp.outer(errors[t], states[t + 1]))
        total = _accumulate(total, "b", delta)
        total = _accumulate(total, "W", jnp.outer(delta, states[t]))
        total = _accumulate(total, "U", jnp.outer(delta, xs[t]))
        delta_next = delta
    return total
'''
# ... and copied by another: every name changed, the helpers in another order, comments added.
COPIED_BPTT_BACKWARD = '''def _errs(Vmat, cvec, hh, targets):
    # errors of the read-out
    return [Vmat @ s + cvec - y for s, y in zip(hh[1:], targets)]


def _add(acc, key, val):
    acc[key] = acc[key] + val
    return acc


def _run(Umat, Wmat, bvec, inputs, start):
    hh = [start]
    for inp in inputs:
        hh.append(jnp.tanh(bvec + Wmat @ hh[-1] + Umat @ inp))
    return hh


def elman_backward(params, xs, ys, h0):
    """Gradients of the Elman square-error loss, by hand. Returns a dict like params."""
    Umat, Wmat, bvec, Vmat, cvec = params["U"], params["W"], params["b"], params["V"], params["c"]
    hh = _run(Umat, Wmat, bvec, xs, h0)
    e = _errs(Vmat, cvec, hh, ys)
    acc = {key: jnp.zeros_like(val) for key, val in params.items()}
    d_after = jnp.zeros_like(h0)
    for step in range(len(xs) - 1, -1, -1):
        d = (1 - hh[step + 1] ** 2) * (Wmat.T @ d_after + Vmat.T @ e[step])
        acc = _add(acc, "c", e[step])
        acc = _add(acc, "V", jnp.outer(e[step], hh[step + 1]))
        acc = _add(acc, "b", d)
        acc = _add(acc, "W", jnp.outer(d, hh[step]))
        acc = _add(acc, "U", jnp.outer(d, xs[step]))
        d_after = d
    return acc
'''


def variant_notebook(assignment="scans", answers=VARIANT_SCANS):
    notebook = reference_notebook(assignment)
    for function, source in answers.items():
        notebook = with_answer(assignment, function, source, notebook)
    return notebook


def renamed_and_reordered(notebook):
    """A copy of ``notebook``: every local name renamed, every answer cell's top-level
    functions in reverse order, a comment on top."""
    names = {"states": "outs", "h": "hid", "x": "inp", "x_bar": "xb", "body": "inner", "_": "ignored",
             "a1": "p", "b1": "q", "a2": "r", "b2": "s", "result": "buf", "count": "n", "t": "i",
             "bias": "b0", "weights": "w", "advance": "go", "final": "last", "trajectory": "traj",
             "outputs": "ys", "slope": "m", "shift": "k", "ones": "unit", "coefficients": "cs",
             "offsets": "os_", "prefix": "pre", "values": "vals", "start": "s0"}
    pattern = re.compile(r"(?<![\w.\"'])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
                         + r")(?![\w\"'])")
    copy = reference_notebook("scans")
    copy.cells = []
    for cell in notebook.cells:
        cell = cell.copy()
        if cell.metadata.get("nbgrader", {}).get("solution"):
            blocks = re.split(r"\n(?=def )", cell.source.strip())
            body = "\n\n\n".join(reversed(blocks))
            cell.source = "# my own work\n" + pattern.sub(lambda m: names[m.group(1)], body)
        copy.cells.append(cell)
    return copy


def lectlib_scan_answer():
    """The answer cell 'scan' pasted from lectlib.scan's body (adapted to return the states)."""
    source = (ROOT / "lectlib" / "scans.py").read_text()
    body = source[source.index("def scan(f, init, xs, length=None):"):]
    body = body[:body.index("\ndef ", 10)]
    return body.replace("def scan(f, init, xs, length=None):", "def _lectlib_scan(f, init, xs, length=None):") + (
        "\n\ndef scan(f, h, xs):\n    return _lectlib_scan(lambda c, x: (f(c, x),) * 2, h, xs)[1]\n")


def run_answers(assignment, notebook):
    """The answer cells of ``notebook`` executed in one namespace (trusted test code)."""
    import jax
    import jax.numpy as jnp

    scope = {"np": np, "jax": jax, "jnp": jnp}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, scope)
    return scope


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return new_course(tmp_path_factory.mktemp("similarity") / "course")


def report_for(course, submissions, assignment="scans", **settings):
    notebooks, _, _ = similarity.read_submissions(submissions, assignment, course.assignments())
    return similarity.compare_assignment(assignment, course.release_notebook(assignment), notebooks,
                                         similarity.library_sources(), **settings)


def flagged(report):
    return {(p.first.name, p.second.name) for p in report.pairs if p.kind == "student"}


def flagged_sources(report):
    return {(p.first.name, p.first.answer, p.second.name) for p in report.pairs if p.kind == "source"}


@pytest.mark.parametrize("assignment", [pytest.param("gated", marks=pytest.mark.slow), "losses", "scans"])
def test_the_variants_are_correct_solutions_written_differently(assignment):
    """Every case of the assignment's checks, hidden ones included (gated's training step
    compiles for about a minute: marked slow)."""
    scope = run_answers(assignment, variant_notebook(assignment, VARIANTS[assignment]))
    for check in checks.load(assignment).values():
        for index in range(len(check.cases)):
            args = checks.evaluate_code(check.case_args(index))
            received = checks.to_numpy(scope[check.function](*args))
            problem = compare(received, checks.reference_output(check, index), check.rtol, check.atol)
            assert problem is None, f"{check.function}, case {check.cases[index].label}: {problem}"


def test_a_renamed_reordered_copy_is_flagged_and_honest_work_is_not(course, tmp_path):
    folder = tmp_path / "submitted"
    variant = variant_notebook()
    submit(folder, "ada", "scans", reference_notebook("scans"))
    submit(folder, "bea", "scans", variant)
    submit(folder, "cy", "scans", renamed_and_reordered(variant))          # copied bea's
    submit(folder, "dan", "scans", renamed_and_reordered(reference_notebook("scans")))  # copied ada's
    submit(folder, "eve", "scans", course.release_notebook("scans"))        # starter code only
    report = report_for(course, folder)
    assert report.students == ["ada", "bea", "cy", "dan", "eve"]
    assert flagged(report) == {("bea", "cy"), ("ada", "dan")}
    copy = next(p for p in report.pairs if (p.first.name, p.second.name) == ("bea", "cy"))
    assert copy.score > 0.9 and copy.fractions[0] > 0.9 and copy.fractions[1] > 0.9
    honest = similarity.compare("scans", *[d for d in _documents(course, folder) if d.name in ("ada", "bea")])
    assert honest.score < similarity.DEFAULT_THRESHOLD


def _documents(course, folder, assignment="scans"):
    """The student documents of ``folder`` (for looking at one pair's numbers)."""
    notebooks, _, _ = similarity.read_submissions(folder, assignment, course.assignments())
    return similarity.documents(assignment, course.release_notebook(assignment), notebooks)[0]


def test_a_copied_helper_heavy_answer_is_flagged_in_bptt(course, tmp_path):
    folder = tmp_path / "submitted"
    submit(folder, "ada", "bptt", with_answer("bptt", "elman_backward", ORIGINAL_BPTT_BACKWARD))
    submit(folder, "bob", "bptt", with_answer("bptt", "elman_backward", COPIED_BPTT_BACKWARD))
    scope = run_answers("bptt", with_answer("bptt", "elman_backward", COPIED_BPTT_BACKWARD))
    check = checks.load("bptt")["test_elman_backward"]
    args = checks.evaluate_code(check.case_args(0))
    assert compare(checks.to_numpy(scope["elman_backward"](*args)), checks.reference_output(check, 0),
                   check.rtol, check.atol) is None
    report = report_for(course, folder, "bptt")
    assert ("ada", "bob") in flagged(report)


def test_starter_code_alone_is_not_flagged(course, tmp_path):
    folder = tmp_path / "submitted"
    for student in ("ada", "bob", "cy"):
        submit(folder, student, "scans", course.release_notebook("scans"))
    report = report_for(course, folder)
    assert report.pairs == []
    documents = list(_documents(course, folder))
    assert all(d.own_chars == 0 for d in documents)


def test_an_answer_pasted_from_lectlib_is_flagged_against_its_source(course, tmp_path):
    folder = tmp_path / "submitted"
    submit(folder, "ada", "scans", with_answer("scans", "scan", lectlib_scan_answer(), variant_notebook()))
    submit(folder, "bea", "scans", variant_notebook())
    report = report_for(course, folder)
    assert ("ada", "scan", "lectlib/scans.py") in flagged_sources(report)
    assert not any(who == "bea" for who, _, _ in flagged_sources(report))


@pytest.mark.parametrize("assignment", checks.ASSIGNMENTS)
def test_honest_solutions_are_not_flagged_against_each_other_or_the_library(course, tmp_path, assignment):
    """With the default settings, the reference solution and a differently written correct
    variant (where the test has one) raise no flag, not even where the reference follows
    the lecture's equations as lectlib does; a renamed, reordered copy of each is flagged."""
    folder = tmp_path / "submitted"
    submit(folder, "ada", assignment, reference_notebook(assignment))
    if assignment in VARIANTS:
        submit(folder, "bea", assignment, variant_notebook(assignment, VARIANTS[assignment]))
    assert report_for(course, folder, assignment).pairs == []
    submit(folder, "cy", assignment, renamed_and_reordered(reference_notebook(assignment)))
    assert flagged(report_for(course, folder, assignment)) == {("ada", "cy")}


def test_the_cli_writes_a_csv_row_per_flagged_pair_and_an_offline_html_report(course, tmp_path, capsys):
    folder = tmp_path / "submitted"
    variant = variant_notebook()
    submit(folder, "ada", "scans", reference_notebook("scans"))
    submit(folder, "bea", "scans", variant)
    submit(folder, "cy", "scans", renamed_and_reordered(variant))
    submit(folder, "dee", "scans", with_answer("scans", "scan", lectlib_scan_answer(), course.release_notebook("scans")))
    submit(folder, "zed", "scans", raw=b"not a notebook")
    long = with_answer("scans", "combine", "x = 1\n" * (similarity.MAX_ANSWER_CHARS // 6 + 10),
                       course.release_notebook("scans"))
    submit(folder, "lou", "scans", long)
    (folder / "sym" / "scans").mkdir(parents=True)      # a link to another's notebook is not followed
    (folder / "sym" / "scans" / "scans.ipynb").symlink_to(folder / "bea" / "scans" / "scans.ipynb")
    out = tmp_path / "report"
    code = cli.main(["--course", str(course.root), "similarity", str(folder), "--assignment", "scans",
                     "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "scans: 5 submissions compared" in printed and "not compared: zed" in printed and "not compared: sym" in printed and str(out / "scans.html") in printed
    with open(out / "scans.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["assignment"] for r in rows] == ["scans"] * len(rows)
    assert {(r["first"], r["second"], r["kind"], r["answer"]) for r in rows} == {
        ("bea", "cy", "student", ""), ("dee", "lectlib/scans.py", "source", "scan")}
    assert len(rows) == 2
    for row in rows:
        assert similarity.DEFAULT_THRESHOLD <= float(row["score"]) <= 1.0
    copy = next(r for r in rows if (r["first"], r["second"]) == ("bea", "cy"))
    assert float(copy["score"]) == max(float(copy["first_fraction"]), float(copy["second_fraction"]))
    page = (out / "scans.html").read_text()
    assert page.count("<mark class='first'>") >= 1 and page.count("<mark class='second'>") >= 1
    assert "lectlib/scans.py" in page and "zed" in page            # the unreadable one is named as not compared
    assert "sym (unreadable: the notebook file is a link, which grading does not follow)" in page
    assert f"Answers longer than {similarity.MAX_ANSWER_CHARS} characters, compared up to there: lou" in page
    assert not re.search(r"(?:src|href)\s*=\s*['\"]?(?:https?:)?//", page), "the report fetches something"
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page


def test_the_cli_says_clearly_what_is_wrong(course, tmp_path, capsys):
    folder = tmp_path / "submitted"
    submit(folder, "ada", "scans", reference_notebook("scans"))
    base = ["--course", str(course.root), "similarity"]
    assert cli.main(base + [str(tmp_path / "nowhere")]) == 1
    assert "no submissions folder at" in capsys.readouterr().err
    assert cli.main(base + [str(folder), "--assignment", "nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown assignment 'nope'" in err and "scans" in err
    assert cli.main(base + [str(folder), "--threshold", "1.5"]) == 1
    assert "--threshold" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(base + [str(empty)]) == 1
    assert "no submissions in" in capsys.readouterr().err
    assert cli.main(["--course", str(tmp_path), "similarity", str(folder)]) == 1
    assert "not a course directory" in capsys.readouterr().err


def test_starter_code_removal_keeps_code_a_student_repeats():
    """copydetect 0.5.0's own boilerplate step also drops fingerprints that occur twice in a
    document (it intersects with ``assume_unique=True``); ours keeps them."""
    gates = ("z = jax.nn.sigmoid(p['U_z'] @ x + p['W_z'] @ h + p['b_z'])\n"
             "r = jax.nn.sigmoid(p['U_r'] @ x + p['W_r'] @ h + p['b_r'])\n")
    unrelated = similarity.boilerplate_hashes(["def f(a):\n    raise NotImplementedError()\n"], 25)
    kept = similarity.fingerprint("s", gates, 25, unrelated)
    whole = similarity.fingerprint("s", gates, 25)
    assert kept.token_coverage == whole.token_coverage > 0 and kept.hashes == whole.hashes
    starter = similarity.boilerplate_hashes(["z = jax.nn.sigmoid(p['U_z'] @ x + p['W_z'] @ h + p['b_z'])\n"], 25)
    assert similarity.fingerprint("s", gates, 25, starter).token_coverage < whole.token_coverage


def test_students_who_submitted_nothing_are_listed_as_such_not_as_skipped(tmp_path):
    folder = tmp_path / "submitted"
    submit(folder, "ada", "scans", reference_notebook("scans"))
    (folder / "bob" / "scans").mkdir(parents=True)                 # bob's folder, no notebook
    (folder / "cy" / "scans").mkdir(parents=True)
    for name in ("a.ipynb", "b.ipynb"):                             # cy: which one is it?
        (folder / "cy" / "scans" / name).write_text("{}")
    notebooks, skipped, missing = similarity.read_submissions(folder, "scans", checks.ASSIGNMENTS)
    assert sorted(notebooks) == ["ada"] and missing == ["bob"]
    assert [name for name, _ in skipped] == ["cy"]
