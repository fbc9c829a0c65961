"""The runner (autograder/executor.py) on its own, without the sandbox: it reads a plan,
runs cells, calls functions, and reports forbidden uses while a by-hand function runs.
A few seconds (it imports JAX once)."""
import os
import subprocess
import sys

from autograder import checks, decode, plan as plan_stage
from autograder.run import EXECUTOR
from autograder.verdict import Untrusted

from autograder_fixtures import CHECKS, release_notebook, submitted


def run_plan(plan, tmp_path):
    """Runs the runner with the grader's side of the protocol (``decode.Feeder``)."""
    read, write = os.pipe()
    env = {**os.environ, "AUTOGRADER_RESULTS_FD": str(write), "JAX_PLATFORMS": "cpu"}
    process = subprocess.Popen([sys.executable, str(EXECUTOR)], stdin=subprocess.PIPE, pass_fds=[write], env=env,
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    feeder = decode.Feeder(plan)
    process.stdin.write(feeder.initial)
    process.stdin.flush()
    data = b""
    while chunk := os.read(read, 1 << 16):
        data += chunk
        answer = feeder.respond(data)
        if answer is None:
            process.stdin.close()
        elif answer and not process.stdin.closed:
            process.stdin.write(answer)
            process.stdin.flush()
    os.close(read)
    if not process.stdin.closed:
        process.stdin.close()
    assert process.wait(timeout=120) == 0, process.stderr.read()
    recorded = decode.decode(data, plan.sequence(), seal=plan.seal)
    assert recorded.violation is None
    return recorded


def test_honest_answers_come_back_and_prints_are_counted(tmp_path):
    notebook = submitted(total_source="%time x = 1\nimport warnings\nwarnings.warn('careful')\nprint('hello')\n"
                                      "def total(x):\n    return float(np.sum(np.asarray(x, np.float64)))",
                         extra=["raise ValueError('scratch work')",
                                # the runner's own modules are not the cells' to import by name
                                "import __main__\nassert not hasattr(__main__, 'Channel') and __main__.total\n"
                                "try:\n    import wire\nexcept ImportError:\n    pass\n"
                                "else:\n    raise AssertionError('the wire module of the runner is importable')"])
    recorded = run_plan(plan_stage.build_plan(notebook, release_notebook(), CHECKS), tmp_path)
    assert recorded.finished and recorded.printed > len("hello\n")      # the print and the warning
    assert recorded.calls["test_double/0"].value.tolist() == [2.0, 4.0]
    assert recorded.calls["test_total/0"].value.dtype.kind == "f" and float(recorded.calls["test_total/0"].value) == 3.0
    assert recorded.cell_errors == [(4, "ValueError", Untrusted("ValueError: scratch work"))]
    assert recorded.violations == []


def test_autodiff_during_a_by_hand_function_is_reported_and_refused(tmp_path):
    helper = "import jax\ndef sneaky(x):\n    g = getattr(jax, 'gr' + 'ad')\n    return g(lambda y: (y ** 2).sum())(x)"
    notebook = submitted(double_source="import jax\ndef double(x):\n    return jax.grad(lambda y: (y ** 2).sum())(x)",
                         total_source="def total(x):\n    return sneaky(x).sum() / 2", extra=[helper])
    notebook.cells.insert(1, notebook.cells.pop())           # the helper cell first
    recorded = run_plan(plan_stage.build_plan(notebook, release_notebook(), CHECKS), tmp_path)
    assert recorded.calls["test_double/0"].kind == "ok"        # autodiff is allowed in double
    assert recorded.calls["test_total/0"].kind == "forbidden"
    assert recorded.violations == [{"rule": "no-autodiff", "used": Untrusted("jax.grad"), "line": 4, "cell": 2,
                                    "call": "test_total/0"}]


def test_a_library_that_defines_custom_derivatives_is_no_autodiff(tmp_path):
    total = ("def total(x):\n    from jax.scipy.special import expit\n    import jax.nn\n"
             "    return float(np.sum(x)) + 0 * float(expit(0.0)) + 0 * float(jax.nn.sigmoid(0.0))")
    recorded = run_plan(plan_stage.build_plan(submitted(total_source=total), release_notebook(), CHECKS), tmp_path)
    assert recorded.calls["test_total/0"].kind == "ok" and recorded.violations == []
    applied = ("import jax\n@jax.custom_jvp\ndef f(x):\n    return x\n"
               "def total(x):\n    g = jax.custom_jvp(lambda y: y)\n    return float(np.sum(x))")
    recorded = run_plan(plan_stage.build_plan(submitted(total_source=applied), release_notebook(), CHECKS), tmp_path)
    assert recorded.calls["test_total/0"].kind == "forbidden"
    assert [v["used"] for v in recorded.violations] == [Untrusted("jax.custom_jvp")]


def test_lectlib_is_refused_wherever_it_is_imported(tmp_path):
    notebook = submitted(double_source="def double(x):\n    return __import__('lectlib').scan(None, x, x)",
                         extra=["import importlib\ntry:\n    importlib.import_module('lectlib.losses')\n"
                                "except ImportError as e:\n    print(e)"])
    recorded = run_plan(plan_stage.build_plan(notebook, release_notebook(), CHECKS), tmp_path)
    assert recorded.calls["test_double/0"].kind == "raised"
    assert recorded.calls["test_double/0"].exception == "ModuleNotFoundError"
    assert {(v["used"], v["call"], v["cell"]) for v in recorded.violations} == {
        (Untrusted("lectlib"), "test_double/0", 2), (Untrusted("lectlib"), "test_double/1", 2),
        (Untrusted("lectlib"), None, 4)}


def test_the_course_manifests_state_points_and_rules():
    for assignment in checks.ASSIGNMENTS:
        for check in checks.load(assignment).values():
            assert check.points > 0 and check.rules[0].name == "no-lectlib"
    assert [r.name for r in checks.load("bptt")["test_elman_backward"].rules] == ["no-lectlib", "no-autodiff"]
