"""The by-hand check over an answer's whole closure (lectlib.homework.rules.closure_violations):
every way around "by hand" a student found (issue 17), written as a student would, across
their own cells, loses exactly that function; honest variety keeps it. Pure ``ast``: fast."""
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lectlib.homework import rules
from lectlib.homework.rules import (NO_AUTODIFF, NO_LECTLIB, RULE_TITLES, WRITE_PLAINLY, ClosureViolation,
                                    closure, closure_violations, message, violations)

ROOT = Path(__file__).resolve().parents[1]
BY_HAND = [NO_LECTLIB, NO_AUTODIFF]

IMPORTS = "import jax\nimport jax.numpy as jnp\nimport numpy as np"
ANSWER = '''def elman_backward(params, xs, ys, h0):
    U, W, b, V, c = (params[k] for k in ("U", "W", "b", "V", "c"))
    h, hs = h0, []
    for x in xs:
        h = jnp.tanh(b + W @ h + U @ x)
        hs.append(h)
    hs = jnp.stack(hs)
    grad_os = hs @ V.T + c - ys
    grads = {k: jnp.zeros_like(v) for k, v in params.items()}
    grad = jnp.zeros_like(h0)
    for t in reversed(range(len(xs))):
        grad_a = (1 - hs[t] ** 2) * (W.T @ grad + V.T @ grad_os[t])
        grads["W"] = grads["W"] + jnp.outer(grad_a, hs[t - 1] if t > 0 else h0)
        grad = grad_a
    return grads'''
# A student's own check cell: compares the answer with autodiff. Not part of the answer.
SELF_CHECK = '''from jax import grad, vjp
auto = jax.grad(elman_loss)(params, xs, ys, h0)
mine = elman_backward(params, xs, ys, h0)
print(np.allclose(elman_backward(params, xs, ys, h0)["W"], jax.grad(elman_loss)(params, xs, ys, h0)["W"]))
assert all(np.allclose(mine[k], auto[k], atol=1e-5) for k in mine)
_, pullback = vjp(lambda p: elman_loss(p, xs, ys, h0), params)'''


def numbered(*sources):
    return [(number, source) for number, source in enumerate(sources, start=3)]


def found(cells, function="elman_backward", rule_list=BY_HAND):
    return {(v.rule, v.used) for v in closure_violations(cells, function, rule_list)}


def broken(cells, function="elman_backward"):
    return {v.rule for v in closure_violations(cells, function, BY_HAND)}


# Each evasion of issue 17 ("By hand is not by hand" and what the red team tried next), as
# a student writes it: setup, helper cells, the answer, their own check. -> the rules it breaks.
EVASIONS = {
    "helper cell jits jax.grad once at a padded shape": ((
        IMPORTS,
        "T_MAX = 64\n\ndef pad(xs):\n    return jnp.zeros((T_MAX,) + xs.shape[1:]).at[:len(xs)].set(xs)",
        "_padded_grad = jax.jit(jax.grad(elman_loss))\n_padded_grad(params, pad(xs), pad(ys), h0)",
        "def elman_backward(params, xs, ys, h0):\n    return _padded_grad(params, pad(xs), pad(ys), h0)",
    ), {"no-autodiff"}),
    "a jit warmed on the case shapes, its source redefined by hand afterwards": ((
        IMPORTS,
        "def _step(params, xs, ys, h0):\n    return jax.value_and_grad(elman_loss)(params, xs, ys, h0)[1]",
        "fast = jax.jit(_step)\nfor T in (1, 3, 5):\n    fast(params, xs[:T], ys[:T], h0)",
        "def _step(params, xs, ys, h0):\n    raise NotImplementedError  # nothing to see here",
        "def elman_backward(params, xs, ys, h0):\n    return fast(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "getattr with a name built at run time": ((
        IMPORTS,
        "def elman_backward(params, xs, ys, h0):\n    d = getattr(jax, 'gr' + 'ad')\n"
        "    return d(elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "the originals kept in the watch's keyword defaults": ((
        IMPORTS,
        "_true = {k: v for k, v in (jax.value_and_grad.__kwdefaults__ or {}).items()}",
        "def elman_backward(params, xs, ys, h0):\n    return _true['original'](elman_loss)(params, xs, ys, h0)[1]",
    ), {"write-plainly", "no-autodiff"}),
    "the originals from a wrapper's closure cell, the wrapper reached without its name": ((
        IMPORTS,
        "w = vars(jax)['value_and_' + 'grad']\noriginal = w.__closure__[0].cell_contents",
        "def elman_backward(params, xs, ys, h0):\n    return original(elman_loss)(params, xs, ys, h0)[1]",
    ), {"write-plainly"}),
    "walking the stack to the runner's frames": ((
        IMPORTS + "\nimport sys",
        "def elman_backward(params, xs, ys, h0):\n    frame = sys._getframe(1)\n"
        "    while frame and 'plan' not in frame.f_locals:\n        frame = frame.f_back\n"
        "    return frame.f_locals['plan']['answers'][id(params)]",
    ), {"write-plainly"}),
    "walking the stack through inspect": ((
        IMPORTS + "\nimport inspect as _i",
        "def elman_backward(params, xs, ys, h0):\n    return _i.stack()[2].frame.f_globals['expected']",
    ), {"write-plainly"}),
    "sys.modules['jax'].grad": ((
        IMPORTS + "\nimport sys",
        "def elman_backward(params, xs, ys, h0):\n    return sys.modules['jax'].grad(elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly", "no-autodiff"}),
    "operator.attrgetter('grad')(jax)": ((
        IMPORTS + "\nfrom operator import attrgetter",
        "def elman_backward(params, xs, ys, h0):\n    return attrgetter('grad')(jax)(elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "jnp.tanh patched in an unrelated cell to call jax.grad": ((
        IMPORTS,
        "_tanh = jnp.tanh\n\ndef _sneaky(x):\n    _sneaky.g = jax.grad(lambda z: _tanh(z).sum())(x)\n"
        "    return _tanh(x)",
        "jnp.tanh = _sneaky",
        ANSWER,
    ), {"no-autodiff"}),
    "setattr on a library in an unrelated cell": ((
        IMPORTS,
        "setattr(jnp, 'outer', lambda a, b: jax.jacrev(lambda p: p)(a) @ b)",
        ANSWER,
    ), {"no-autodiff"}),
    "a thread started in an unrelated cell": ((
        IMPORTS + "\nimport threading",
        "def _worker():\n    while True:\n        globals()['_answer'] = jax.grad(elman_loss)(params, xs, ys, h0)",
        "threading.Thread(target=_worker, daemon=True).start()",
        ANSWER,
    ), {"no-autodiff", "write-plainly"}),
    "a thread imported by name, its target lazily importing the gradient": ((
        IMPORTS + "\nfrom threading import Thread as T",
        "def _work():\n    from jax import vjp as v\n    return v",
        "T(target=_work).start()",
        ANSWER,
    ), {"no-autodiff"}),
    "top-level exec of an encoded string": ((
        IMPORTS + "\nimport base64",
        "exec(base64.b64decode(b'ZGVmIGVsbWFuX2JhY2t3YXJkKCopOiBwYXNz').decode())",
        ANSWER,
    ), {"write-plainly"}),
    "eval of a built name at top level": ((
        IMPORTS,
        "helper = eval('jax.' + 'grad')",
        ANSWER,
    ), {"write-plainly"}),
    "a global filled by an unrelated cell with jax.grad results": ((
        IMPORTS,
        "CACHE = {}",
        "def elman_backward(params, xs, ys, h0):\n    return CACHE[len(xs)]",
        "for T in range(1, 9):\n    CACHE[T] = jax.grad(elman_loss)(params, xs[:T], ys[:T], h0)",
    ), {"no-autodiff"}),
    "a global filled through a method call in an unrelated cell": ((
        IMPORTS,
        "CACHE = {}",
        "def elman_backward(params, xs, ys, h0):\n    return CACHE[len(xs)]",
        "CACHE.update({T: jax.grad(elman_loss)(params, xs[:T], ys[:T], h0) for T in range(9)})",
    ), {"no-autodiff"}),
    "a global filled through another name for it": ((
        IMPORTS,
        "CACHE = {}",
        "def elman_backward(params, xs, ys, h0):\n    return CACHE[len(xs)]",
        "store = CACHE\nstore[3] = jax.grad(elman_loss)(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "a global filled by a function another cell calls": ((
        IMPORTS,
        "CACHE = {}\n\ndef _fill(store, T):\n    store[T] = jax.grad(elman_loss)(params, xs[:T], ys[:T], h0)",
        "_fill(CACHE, 5)",
        "def elman_backward(params, xs, ys, h0):\n    return CACHE[len(xs)]",
    ), {"no-autodiff"}),
    "a global set from a function through a global statement": ((
        IMPORTS,
        "def _prepare():\n    global _G\n    _G = jax.grad(elman_loss)",
        "_prepare()",
        "def elman_backward(params, xs, ys, h0):\n    return _G(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "from jax import grad as g in one cell, g(...) in another": ((
        IMPORTS,
        "from jax import grad as g",
        "def elman_backward(params, xs, ys, h0):\n    return g(elman_loss)(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "a module renamed by an assignment in another cell": ((
        IMPORTS,
        "j = jax",
        "def elman_backward(params, xs, ys, h0):\n    return j.grad(elman_loss)(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "a module renamed inside the answer": ((
        IMPORTS,
        "def elman_backward(params, xs, ys, h0):\n    j = jax\n    return j.vjp(elman_loss, params)[1](1.0)",
    ), {"no-autodiff"}),
    "a global buffer filled by a library function in another cell": ((
        IMPORTS,
        "BUFFER = np.zeros(12)",
        "def elman_backward(params, xs, ys, h0):\n    return {'W': BUFFER.reshape(3, 4)}",
        "np.copyto(BUFFER, jax.grad(flat_loss)(flat_params))",
    ), {"no-autodiff"}),
    "a class whose method uses vjp": ((
        IMPORTS,
        "class Backward:\n    def __call__(self, params, xs, ys, h0):\n"
        "        _, pull = jax.vjp(lambda p: elman_loss(p, xs, ys, h0), params)\n        return pull(1.0)[0]",
        "def elman_backward(params, xs, ys, h0):\n    return Backward()(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "a default argument computed with jax.grad": ((
        IMPORTS,
        "def elman_backward(params, xs, ys, h0, _g=jax.grad(elman_loss)):\n    return _g(params, xs, ys, h0)",
    ), {"no-autodiff"}),
    "a decorator that differentiates": ((
        IMPORTS,
        "def by_hand(f):\n    return jax.grad(elman_loss)",
        "@by_hand\ndef elman_backward(params, xs, ys, h0):\n    pass",
    ), {"no-autodiff"}),
    "the answer rebound to autodiff after a by-hand definition": ((
        IMPORTS,
        ANSWER,
        "elman_backward = jax.grad(elman_loss)",
    ), {"no-autodiff"}),
    "a custom_vjp applied by the student": ((
        IMPORTS,
        "@jax.custom_vjp\ndef _loss(p):\n    return elman_loss(p, xs, ys, h0)",
        "def elman_backward(params, xs, ys, h0):\n    return _loss(params)",
    ), {"no-autodiff"}),
    "lectlib imported in a helper cell": ((
        IMPORTS,
        "from lectlib import bptt as _b",
        "def elman_backward(params, xs, ys, h0):\n    return _b.elman_grads(params, xs, ys, h0)",
    ), {"no-lectlib"}),
    "lectlib through __import__ in a helper": ((
        IMPORTS,
        "def _helper():\n    return __import__('lect' + 'lib')",
        "def elman_backward(params, xs, ys, h0):\n    return _helper().bptt.elman_grads(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "the builtins patched": ((
        IMPORTS + "\nimport builtins",
        "builtins.zip = lambda *a: jax.grad(elman_loss)",
        ANSWER,
    ), {"write-plainly", "no-autodiff"}),
    "a library class patched": ((
        IMPORTS,
        "jax.Array.__matmul__ = lambda a, b: jax.jvp(jnp.dot, (a, b), (a, b))[1]",
        ANSWER,
    ), {"no-autodiff"}),
    "a finalizer that runs later": ((
        IMPORTS,
        "class _Later:\n    def __del__(self):\n        jax.grad(elman_loss)(params, xs, ys, h0)\n\n_x = _Later()",
        ANSWER,
    ), {"no-autodiff"}),
    "a trace hook installed in an unrelated cell": ((
        IMPORTS + "\nimport sys",
        "def _tracer(frame, event, arg):\n    jax.hessian(elman_loss)\n    return _tracer",
        "sys.settrace(_tracer)",
        ANSWER,
    ), {"no-autodiff"}),
    "globals() filled in an unrelated cell": ((
        IMPORTS,
        "globals()['_g'] = jax.grad(elman_loss)",
        "def elman_backward(params, xs, ys, h0):\n    return _g(params, xs, ys, h0)",
    ), {"write-plainly", "no-autodiff"}),
    "getattr passed around instead of called": ((
        IMPORTS + "\nimport functools",
        "def elman_backward(params, xs, ys, h0):\n    d = functools.reduce(getattr, ['grad'], jax)\n"
        "    return d(elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "a module's __dict__ read with a built key": ((
        IMPORTS,
        "def elman_backward(params, xs, ys, h0):\n    key = ''.join(['g', 'rad'])\n"
        "    return jax.__dict__[key](elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "a file descriptor written directly": ((
        IMPORTS + "\nimport os",
        "def elman_backward(params, xs, ys, h0):\n    os.write(3, b'result')\n    return params",
    ), {"write-plainly"}),
    "/proc/self read": ((
        IMPORTS,
        "def elman_backward(params, xs, ys, h0):\n    return open('/proc/self/maps').read()",
    ), {"write-plainly"}),
    "a gradient read off an optimiser that takes no step": ((
        IMPORTS + "\nfrom jax.scipy.optimize import minimize",
        "def elman_backward(params, xs, ys, h0):\n"
        "    return minimize(flat_loss, flatten(params), method='BFGS', options={'maxiter': 0}).jac",
    ), {"no-autodiff"}),
    "breakpoint() pointed at jax.grad": ((
        IMPORTS + "\nimport os\nos.environ['PYTHONBREAKPOINT'] = 'jax.grad'",
        "def elman_backward(params, xs, ys, h0):\n    return breakpoint(elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "the gradient computed in another process": ((
        IMPORTS + "\nimport subprocess, sys, pickle",
        "def elman_backward(params, xs, ys, h0):\n    out = subprocess.run([sys.executable, 'grad.py'], "
        "input=pickle.dumps(params), capture_output=True)\n    return pickle.loads(out.stdout)",
    ), {"write-plainly"}),
    "code in a docstring run by doctest": ((
        IMPORTS + "\nimport doctest",
        "def _notes():\n    \"\"\"\n    >>> CACHE.append(jax.grad(elman_loss))\n    \"\"\"",
        "CACHE = []\ndoctest.testmod()",
        "def elman_backward(params, xs, ys, h0):\n    return CACHE[0](params, xs, ys, h0)",
    ), {"write-plainly"}),
    "code in a string run by timeit": ((
        IMPORTS + "\nimport timeit",
        "timeit.timeit('G.append(jax.grad(elman_loss))', number=1, globals={'G': G, 'jax': jax})",
        "def elman_backward(params, xs, ys, h0):\n    return G[0](params, xs, ys, h0)",
    ), {"write-plainly"}),
    "a module's __getattr__ called with a built name": ((
        IMPORTS,
        "def elman_backward(params, xs, ys, h0):\n"
        "    return jax.__getattr__('gr' 'ad')(elman_loss)(params, xs, ys, h0)",
    ), {"write-plainly"}),
    "a magic line and a broken cell do not hide the rest": ((
        IMPORTS,
        "%load_ext autoreload\n!echo hi\nfrom jax import jacrev",
        "def broken(:\n    pass",
        "def elman_backward(params, xs, ys, h0):\n    return jacrev(elman_loss)(params, xs, ys, h0)",
    ), {"no-autodiff"}),
}


@pytest.mark.parametrize("name", list(EVASIONS))
def test_every_evasion_loses_the_function_with_the_rule_it_breaks(name):
    cells, expected = EVASIONS[name]
    assert broken(numbered(*cells, SELF_CHECK)) == expected


def test_an_evasion_is_reported_where_it_is_with_its_cell_and_line():
    cells = numbered(IMPORTS, "from jax import grad as g",
                     "def elman_backward(params, xs, ys, h0):\n    return g(elman_loss)(params, xs, ys, h0)")
    assert closure_violations(cells, "elman_backward", BY_HAND) == [
        ClosureViolation("no-autodiff", "jax.grad", 4, 1, NO_AUTODIFF.reason),
        ClosureViolation("no-autodiff", "jax.grad", 5, 2, NO_AUTODIFF.reason)]
    assert message("elman_backward", closure_violations(cells, "elman_backward", BY_HAND)[1]) == \
        "elman_backward: uses jax.grad (cell 5, line 2); this exercise is by hand"


# Honest variety: each keeps full marks, with the student's own autodiff check cell beside it.
HONEST = {
    "jax, loops and helper cells referenced from the answer": (
        IMPORTS, "def dtanh(h):\n    return 1 - h ** 2", ANSWER.replace("(1 - hs[t] ** 2)", "dtanh(hs[t])")),
    "numpy instead of jax, float64": (
        "import numpy as np",
        "def elman_backward(params, xs, ys, h0):\n    grads = {k: np.zeros_like(np.asarray(v, dtype=np.float64))"
        " for k, v in params.items()}\n    for t in range(len(xs)):\n        grads['W'] += np.outer(xs[t], h0)\n"
        "    return grads"),
    "float64 switched on, prints, warnings and a plot": (
        IMPORTS + "\nimport warnings\nimport matplotlib.pyplot as plt",
        "jax.config.update('jax_enable_x64', True)\nplt.rcParams['figure.figsize'] = (6, 3)\n"
        "warnings.filterwarnings('ignore')",
        ANSWER.replace("    return grads", "    print('done', len(xs))\n    warnings.warn('slow')\n    return grads"),
        "plt.plot(elman_backward(params, xs, ys, h0)['W'].ravel())\nplt.show()"),
    "lazily imported expit and jax.nn.sigmoid inside the function": (
        IMPORTS,
        "def elman_backward(params, xs, ys, h0):\n    from jax.scipy.special import expit\n    import jax.nn\n"
        "    return {k: expit(v) * jax.nn.sigmoid(v) for k, v in params.items()}"),
    "jnp.where, lax.scan and lax.stop_gradient": (
        IMPORTS + "\nfrom jax import lax",
        "def elman_backward(params, xs, ys, h0):\n    def step(h, x):\n"
        "        h = jnp.where(h > 0, jnp.tanh(params['W'] @ h + x), h)\n        return h, h\n"
        "    _, hs = lax.scan(step, lax.stop_gradient(h0), xs)\n    return {'W': jax.lax.stop_gradient(hs)}"),
    "jax.jit of the student's own by-hand function": (
        IMPORTS, ANSWER, "elman_backward = jax.jit(elman_backward)", "fast = jax.jit(elman_backward)"),
    "a local variable named like an autodiff function, grad imported for the check": (
        IMPORTS + "\nfrom jax import *", "from jax import grad", ANSWER),
    "a helper class and a module-level constant": (
        IMPORTS,
        "EPS = 1e-12\n\nclass Tape:\n    def __init__(self):\n        self.hs = []\n"
        "    def push(self, h):\n        self.hs.append(h)",
        "def elman_backward(params, xs, ys, h0):\n    tape = Tape()\n    for x in xs:\n        tape.push(x + EPS)\n"
        "    return {'W': jnp.stack(tape.hs)}",
        "print(EPS, elman_backward(params, xs, ys, h0))\nauto = jax.grad(elman_loss)(params, xs, ys, h0)",
        # EPS, which the answer reads, goes to print and to the answer itself: neither changes it.
        "print(EPS, np.allclose(elman_backward(params, xs, ys, h0, EPS)['W'], jax.grad(elman_loss)(params)['W']))"),
    "a check cell that inspects and collects": (
        IMPORTS + "\nimport gc\nimport inspect", ANSWER,
        "print(inspect.getsource(elman_backward))\ngc.collect()\nassert inspect.signature(elman_backward)"),
    "IPython's display, a timing with timeit and a leftover %timeit": (
        IMPORTS + "\nimport timeit\nfrom IPython.display import display",
        ANSWER.replace("    return grads", "    display(grads)\n    return grads"),
        "%timeit elman_backward(params, xs, ys, h0)\n"
        "print(timeit.timeit(lambda: elman_backward(params, xs, ys, h0), number=3))\ndisplay(auto)"),
    "getattr with a literal name on the student's own object": (
        IMPORTS, "class P:\n    W = 1.0",
        "def elman_backward(params, xs, ys, h0):\n    return {'W': getattr(P, 'W') * jnp.ones(3)}"),
}


@pytest.mark.parametrize("name", list(HONEST))
def test_honest_variety_keeps_full_marks(name):
    assert found(numbered(*HONEST[name], SELF_CHECK)) == set()


def test_a_check_cell_that_calls_the_answer_beside_jax_grad_is_not_part_of_it():
    cells = numbered(IMPORTS, ANSWER, SELF_CHECK)
    held = closure(cells, "elman_backward")
    assert {cell for cell, _ in held} == {3, 4}       # the imports it uses and itself; not the check cell (5)
    assert found(cells) == set()
    # ... but the same jax.grad in a statement the answer does read is found:
    assert broken(numbered(IMPORTS, ANSWER.replace("jnp.zeros_like(h0)", "jnp.zeros_like(auto['b'])"),
                           SELF_CHECK)) == {"no-autodiff"}


def test_only_the_names_a_statement_imports_for_the_answer_count():
    """``from jax import numpy as jnp, grad``: the answer uses jnp; grad is for the check cell."""
    cells = numbered("import jax\nfrom jax import numpy as jnp, grad", ANSWER, "print(grad(elman_loss)(params))")
    assert found(cells) == set()


def test_without_rules_nothing_is_reported_and_write_plainly_needs_a_rule():
    cells, _ = EVASIONS["sys.modules['jax'].grad"]
    assert closure_violations(numbered(*cells), "elman_backward", []) == []
    assert closure_violations(numbered(*cells), "elman_backward", [WRITE_PLAINLY]) == []
    assert found(numbered(*cells), rule_list=[NO_LECTLIB]) == {("write-plainly", "sys.modules")}


def test_other_functions_keep_their_marks_when_one_answer_cheats():
    cells = numbered(IMPORTS, "from jax import grad as g", "def elman_loss(params, xs, ys, h0):\n    return 0.0",
                     "def elman_backward(params, xs, ys, h0):\n    return g(elman_loss)(params, xs, ys, h0)")
    assert found(cells, "elman_loss") == set()
    assert broken(cells) == {"no-autodiff"}


def test_the_rule_titles_name_every_rule_students_can_break():
    from autograder import checks

    names = {value.name for value in vars(rules).values() if isinstance(value, rules.Rule) and value.reason}
    names |= {rule.name for assignment in checks.ASSIGNMENTS for check in checks.load(assignment).values()
              for rule in check.rules}
    assert set(RULE_TITLES) == names
    assert RULE_TITLES["write-plainly"] == "by hand: write it plainly"


# The runner's channels (its standard input, the results descriptor) reached from a cell no
# answer names: a cell that speaks the protocol itself is part of every closure.
CHANNEL_CELLS = {
    "os.write": "import os\nos.write(3, b'frame')",
    "open on a number": "f = open(3, 'wb', closefd=False)\nf.write(b'frame')",
    "open on a built path": "f = open('/pro' + 'c/self/fd/3', 'wb')",
    "io.FileIO": "import io\nf = io.FileIO(3, 'w')",
    "a socket on a descriptor": "import socket\ns = socket.socket(fileno=3)",
    "standard input": "import sys\nargs = sys.stdin.buffer.read(64)",
    "mmap": "import mmap\nm = mmap.mmap(-1, 64)",
    # a module the notebook wrote itself, made importable: its code is not in any cell
    "a module of its own": "import sys\nopen('mine.py', 'w').write('from jax import grad')\nsys.path.insert(0, '.')",
}


@pytest.mark.parametrize("name", sorted(CHANNEL_CELLS))
def test_a_cell_that_reaches_the_runners_channels_is_part_of_every_closure(name):
    assert broken(numbered(CHANNEL_CELLS[name], ANSWER)) == {"write-plainly"}


def test_a_file_opened_by_its_literal_name_is_honest():
    assert broken(numbered("with open('notes.txt', 'w') as f:\n    f.write('gamma = 0.9')", ANSWER)) == set()


def test_the_one_cell_reader_still_reads_one_cell_alone():
    assert [(v.used, v.line) for v in violations("from jax import grad as g\ng(f)", BY_HAND)] == \
        [("jax.grad", 1), ("jax.grad", 2)]


def student_cells(notebook):
    """The answer cells and any cell without nbgrader metadata, numbered from 1."""
    cells = []
    for number, cell in enumerate(notebook["cells"], start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and (meta.get("solution") or not meta):
            cells.append((number, "".join(cell["source"])))
    return cells


@pytest.mark.parametrize("assignment", ["scans", "losses", "bptt", "gated"])
def test_the_instructors_solutions_break_no_rule(assignment):
    notebook = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    checks = json.loads((ROOT / "lectlib" / "homework" / "cases" / f"{assignment}.json").read_text())["checks"]
    by_name = {rule.name: rule for rule in (NO_LECTLIB, NO_AUTODIFF)}
    cells = student_cells(notebook)
    for check in checks.values():
        assert closure_violations(cells, check["function"], [by_name[r] for r in check["rules"]]) == [], check


# ---- properties: honest cells in any order and number never break a rule; one evasion cell
# anywhere among them always does.
HONEST_CELLS = [
    "auto = jax.grad(elman_loss)(params, xs, ys, h0)",
    "print(np.allclose(elman_backward(params, xs, ys, h0)['W'], jax.grad(elman_loss)(params, xs, ys, h0)['W']))",
    "from jax import grad, vjp, jacrev",
    "_, pull = jax.vjp(lambda p: elman_loss(p, xs, ys, h0), params)",
    "import matplotlib.pyplot as plt\nplt.plot([1, 2])",
    "results = []\nresults.append(jax.grad(elman_loss)(params, xs, ys, h0))",
    "for seed in range(3):\n    g = jax.grad(elman_loss)(params, xs, ys, h0)\n    print(seed, g)",
    "def compare(f):\n    return jax.hessian(elman_loss)(params, xs, ys, h0), f(params, xs, ys, h0)",
    "compare(elman_backward)",
    "%time elman_backward(params, xs, ys, h0)",
    "x = (",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(HONEST_CELLS), max_size=8), st.integers(0, 8))
def test_honest_check_cells_anywhere_never_break_a_rule(extra, where):
    cells = [IMPORTS] + extra
    cells.insert(1 + min(where, len(extra)), ANSWER)
    assert found(numbered(*cells)) == set()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(HONEST_CELLS), max_size=6), st.sampled_from(sorted(EVASIONS)), st.integers(0, 6))
def test_an_evasion_among_honest_cells_is_always_found(extra, name, where):
    evasion, expected = EVASIONS[name]
    cells = list(evasion)
    for offset, cell in enumerate(extra):
        cells.insert(min(1 + where + offset, len(cells)), cell)
    assert expected <= broken(numbered(*cells))


def test_code_nested_too_deeply_to_read_is_reported_not_skipped():
    deep = "x = jax" + ".b" * 2000 + "\ny = 1"
    assert found(numbered(deep, "def elman_backward(params, xs, ys, h0):\n    return y")) == \
        {("write-plainly", "code nested too deeply to read")}


def test_a_long_chain_of_helper_statements_is_followed_to_its_end():
    chain = [f"x{i} = x{i - 1}" for i in range(1, 400)]
    cells = numbered("x0 = jax.grad", *reversed(chain), "def elman_backward(params, xs, ys, h0):\n    return x399")
    assert found(cells) == {("no-autodiff", "jax.grad")}


def test_a_source_given_as_a_list_of_lines_reads_like_its_text():
    assert broken([(1, ["from jax import grad as g\n"]), (2, ["def f(p):\n", "    return g(p)"])], "f") == \
        {"no-autodiff"}


def test_a_trick_in_another_cell_costs_the_by_hand_functions_not_the_others():
    """lectlib is not in the sandbox at all: a function whose only rule is no-lectlib is read
    over what it names; statements that change code unnamed join by-hand closures only."""
    walk = "import gc\nrunner = [o for o in gc.get_objects() if type(o).__name__ == 'Watch']"
    forward = "def elman_forward(params, xs, h0):\n    return xs"
    cells = numbered(walk, forward, ANSWER)
    assert found(cells, "elman_forward", [NO_LECTLIB]) == set()
    assert broken(cells) == {"write-plainly"}
