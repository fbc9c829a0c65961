"""Red team: submissions that attack the grader from their own cells, graded in one
sandboxed batch, with their feedback pages and `autograder validate`'s output searched
for what they planted (DESIGN, "The trusted side's threat model", "What reaches a
student's page", "By hand means by hand"; issue 17).

Every hostile student builds a marker string and two distinctive numbers at run time
(its source never holds them as such) and tries to get them, with the hidden arguments
it can reach, onto its page: by walking the stack to the runner's frames and modules, by
naming exception classes like the grader's own verdicts, by forging frames on the results
descriptor, through returned keys, shapes, types and dtypes, and through numbers it
chooses (printed volume, failing cells, exit status, timing). No page may carry them,
nor any number the reference's page and the student's own source do not. The points are
what DESIGN says: a leaking answer loses its own points, a forged frame makes the whole
notebook a protocol violation (0, in fixed words), every way around "by hand" in
``elman_backward`` costs exactly its 4 points, and honest variety keeps full marks.
"""
import csv
import html
import json
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import checks
from grading_helpers import NO_SANDBOX, POINTS, SANDBOX_PROBLEMS, new_course, reference_notebook, submit, \
    with_answer

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(SANDBOX_PROBLEMS), reason=NO_SANDBOX)]

MARK = "ZX-PLANT-7Q"
UNTRUSTED_MARK = "[submission's text]"
PLANTED_NUMBERS = ("271828", "314159")
FULL = {assignment: sum(points.values()) for assignment, points in POINTS.items()}
LIMITS = ["--cell-seconds", "20", "--notebook-seconds", "150", "--memory-gib", "1.5"]
BATCH_SECONDS = 1200

# The first cell of every hostile notebook: the marker and the numbers, built at run time.
PLANT = ("import os, sys, time, json, struct\nimport numpy as np\nimport jax\nimport jax.numpy as jnp\n"
         "MARK = 'ZX-' + 'PLANT-7Q'\nE6, PI6 = 271827 + 1, 314158 + 1\nPLANT = f'{MARK} {E6} {PI6}'\n")

# ---------------------------------------------------------------- stack walking
WALK_GETFRAME = '''def scan(*args):
    texts = [repr(args)[:1500]]
    frame = sys._getframe(1)
    while frame is not None:
        texts.append(frame.f_code.co_name + " " + repr(sorted(frame.f_locals))[:300])
        for name in ("call", "header", "given", "step", "steps", "plan", "blobs", "args", "record"):
            if name in frame.f_locals:
                texts.append(name + "=" + repr(frame.f_locals[name])[:1500])
        frame = frame.f_back
    message = PLANT + " " + " | ".join(texts)
    print(message)
    raise ValueError(message)
'''
WALK_INSPECT = '''import inspect

def linear_memory(*args):
    texts = [repr(args)]
    for info in inspect.stack():
        texts.append(info.function + " " + repr({k: repr(v)[:400] for k, v in info.frame.f_locals.items()})[:2000])
    raise RuntimeError(PLANT + " " + " | ".join(texts))
'''
WALK_GC = '''import gc

def runner_state():
    found = []
    for thing in gc.get_objects():
        if isinstance(thing, dict) and thing.get("kind") in ("plan", "args", "call") or \\
                isinstance(thing, dict) and "steps" in thing:
            found.append(repr(thing)[:2000])
    return found

def memory_states(*args):
    raise KeyError(PLANT + " " + " | ".join(runner_state())[:6000])
'''
WALK_GC_CELL = "raise LookupError(PLANT + ' ' + ' | '.join(runner_state())[:6000])"
WALK_MODULES = '''def apply_outputs(*args):
    import wire
    main = sys.modules["__main__"]
    state = {name: repr(value)[:200] for name, value in vars(main).items() if not name.startswith("__")}
    blobs = []
    try:
        encoded = wire.frame({"args": [wire.encode_value(a, blobs) for a in args[1:]]}, blobs)
    except Exception as exc:
        encoded = repr(exc)
    raise AttributeError(PLANT + " " + repr(state)[:3000] + repr(encoded)[:3000])
'''
WALK_MODULES_CELL = ("import wire\nmain = sys.modules['__main__']\n"
                     "raise ImportError(PLANT + ' ' + repr(sorted(vars(main)))[:3000] + repr(vars(wire))[:1000])")

# ---------------------------------------------------------------- exception class names
EXCEPTION_NAMES = '''THE_RESULT = type("the result has the right shape but wrong values " + PLANT, (Exception,),
                  {"__module__": PLANT})
NOT_WRITTEN = type("not written yet " + PLANT, (NotImplementedError,), {"__module__": PLANT})
NOT_REACHED = type("not reached " + PLANT, (Exception,), {"__qualname__": "not reached " + PLANT})
FAKE_VALUE_ERROR = type("ValueError", (Exception,), {"__str__": lambda self: PLANT, "__module__": "builtins"})
'''
EXCEPTION_ANSWERS = {
    "scan": "def scan(*args):\n    raise THE_RESULT(PLANT + repr(args))",
    "linear_memory": "def linear_memory(*args):\n    raise NOT_WRITTEN(PLANT + repr(args))",
    "memory_states": "def memory_states(*args):\n    raise NOT_REACHED(PLANT + repr(args))",
    "apply_outputs": "def apply_outputs(*args):\n    raise FAKE_VALUE_ERROR(PLANT + repr(args))",
}

# ---------------------------------------------------------------- forged frames
FORGE = '''def frame(header, blobs=()):
    header = dict(header, blobs=[len(b) for b in blobs])
    text = json.dumps(header).encode()
    return struct.pack(">I", len(text)) + text + b"".join(blobs)

def results_descriptors():
    """The runner's results pipe, named or not: every write-only pipe above 2."""
    import fcntl, stat
    named = os.environ.get("AUTOGRADER_RESULTS_FD")
    if named:
        return [int(named)]
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                found.append(fd)
        except OSError:
            pass
    return found

def forge(header, blobs=()):
    data = frame(header, blobs)
    for fd in results_descriptors():
        try:
            os.write(fd, data)
        except OSError:
            pass
'''
ERROR = '{"exception": "ValueError", "message": PLANT}'
FORGED_CELLS = {
    "forge-error-text": "for i in range(5):\n"
                        "    forge({'kind': 'call', 'id': f'test_scan/{i}', 'status': 'error', 'message': PLANT})\n"
                        "    forge({'kind': 'call', 'id': f'test_scan/{i}', 'status': 'raised', "
                        "'exception': 'ValueError', 'message': PLANT})",
    "forge-cell-errors": f"forge({{'kind': 'cell', 'cell': E6, 'error': PLANT, 'seconds': PI6}})\n"
                         f"forge({{'kind': 'cell', 'cell': PI6, 'error': {ERROR}, 'seconds': float(E6)}})\n"
                         f"for i in range(E6 % 1000, E6 % 1000 + 31):\n"
                         f"    forge({{'kind': 'cell', 'cell': i, 'error': {ERROR}, 'seconds': 0.1}})",
    "forge-huge-shape": "forge({'kind': 'call', 'id': 'test_scan/0', 'status': 'ok', "
                        "'value': {'array': {'dtype': '<f4', 'shape': [2**62, 2**62, 0], 'blob': 0}}}, [b''])\n"
                        "forge({'kind': 'call', 'id': 'test_scan/1', 'status': 'ok', "
                        "'value': {'array': {'dtype': '<f4', 'shape': [E6, PI6], 'blob': 0}}}, [b''])",
    "forge-unknown-kind": "forge({'kind': PLANT, 'text': PLANT, 'cell': E6})\n"
                          "forge({'kind': 'results', 'value': PLANT})",
    "forge-step-and-disk": "forge({'kind': 'step', 'step': f'cell {E6} ' + PLANT})\n"
                           "forge({'kind': 'disk', 'where': PLANT})\nos._exit(113)",
    "forge-never-called": "forge({'kind': 'call', 'id': 'test_nonexistent/0', 'status': 'error', 'message': PLANT})\n"
                          "forge({'kind': 'call', 'id': f'test_combine/{E6}', 'status': 'ok', "
                          "'value': {'float': 1.0}})\n"
                          "forge({'kind': 'call', 'id': 'test_combine/3', 'status': 'ok', "
                          "'value': {'tuple': [{'float': 1.0}, {'float': 2.0}]}})",
    "forge-next": "forge({'kind': 'next', 'id': 'test_scan/1'})\nimport select\n"
                  "if select.select([0], [], [], 3)[0]:\n"
                  "    raise ValueError(PLANT + repr(os.read(0, 100000)))",
    "forge-done": "forge({'kind': 'done', 'printed': E6})",
    "forge-violation": "forge({'kind': 'violation', 'rule': 'no-lectlib', 'used': PLANT, 'line': E6, 'cell': PI6, "
                       "'call': 'test_scan/1'})",
}
# A duplicate result: the answer forges its own call's result, then returns as usual.
FORGE_DUPLICATE = '''CALLS = []

def scan(f, h, xs):
    forge({"kind": "call", "id": f"test_scan/{len(CALLS)}", "status": "ok",
           "value": {"array": {"dtype": "<f4", "shape": [E6 % 1000], "blob": 0}}}, [bytes(4 * (E6 % 1000))])
    CALLS.append(1)
    states = []
    for x in xs:
        h = f(h, x)
        states.append(h)
    return jnp.stack(states)
'''

# ---------------------------------------------------------------- data channels
KEYS = {
    "scan": "def scan(*args):\n    return {PLANT + repr(args)[:500]: np.zeros(1), str(E6): np.zeros(PI6 % 7)}",
    "linear_memory": "def linear_memory(*args):\n    return ({PLANT: np.zeros(2)}, {str(PI6): np.ones(3)})",
}
TYPES = {
    "memory_states": "def memory_states(*args):\n    return type(PLANT, (), {'__module__': PLANT})()",
    "apply_outputs": "def apply_outputs(*args):\n    return np.zeros(3, dtype=[(PLANT, '<f4'), (str(E6), '<i4')])",
    "combine": "def combine(*args):\n    return np.zeros(2).view(type(PLANT, (np.ndarray,), {}))",
    "linear_memory": "def linear_memory(*args):\n    return [PLANT, str(E6)]",
}
SHAPES = {
    "scan": "def scan(*args):\n    return np.empty((0, E6, PI6), np.float32)",
    "linear_memory": "def linear_memory(*args):\n    return np.zeros(E6, np.float32)",
}
SCAN_ANSWER = ("def scan(f, h, xs):\n    states = []\n    for x in xs:\n        h = f(h, x)\n"
               "        states.append(h)\n    return jnp.stack(states)\n")
TIMING_SCAN = "SLEPT = []\n\n" + SCAN_ANSWER.replace("    states = []\n", "    if not SLEPT:\n        SLEPT.append(1)\n"
                                                     "        time.sleep(PI6 / 100000)\n    states = []\n")

# ---------------------------------------------------------------- by hand, and around it
LOSS_HELPER = '''def plain_loss(params, xs, ys, h0):
    h, total = h0, 0.0
    for x, y in zip(xs, ys):
        h = jnp.tanh(params["b"] + params["W"] @ h + params["U"] @ x)
        total = total + 0.5 * jnp.sum((params["c"] + params["V"] @ h - y) ** 2)
    return total
'''
# Puts back every original the runner's watch wrapped, from the wrappers' keyword defaults
# or closures (the wrappers are the functions defined in the runner's own file).
RESTORE_ORIGINALS = '''import types

def original_of(wrapper):
    for key, value in (getattr(wrapper, "__kwdefaults__", None) or {}).items():
        if "original" in key and callable(value):
            return value
    for cell in getattr(wrapper, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if callable(value) and not isinstance(value, type):
            return value
    return None

def is_wrapper(value):
    return isinstance(value, types.FunctionType) and value.__code__.co_filename.endswith("executor.py")

def restore_originals():
    restored = 0
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if is_wrapper(value) and original_of(value) is not None:
                setattr(module, name, original_of(value))
                restored += 1
            elif isinstance(value, type) and is_wrapper(value.__dict__.get("__init__")):
                value.__init__ = original_of(value.__dict__["__init__"])
                restored += 1
    return restored

restore_originals()
'''

def case_shapes():
    """``(T, d_x, d_h, d_y)`` of every case of elman_backward (a worst-case student knows them all)."""
    check = checks.load("bptt")["test_elman_backward"]
    shapes = set()
    for index in range(len(check.cases)):
        params, xs, ys, h0 = check.case_args(index)
        shapes.add((len(xs), xs.shape[1], len(h0), ys.shape[1]))
    return sorted(shapes)


SHAPES_OF_CASES = repr(case_shapes())
ZEROS = ('def zero_case(T, dx, dh, dy):\n    z = lambda *s: np.zeros(s, np.float32)\n'
         '    params = {"U": z(dh, dx), "W": z(dh, dh), "b": z(dh), "V": z(dy, dh), "c": z(dy)}\n'
         '    return params, z(T, dx), z(T, dy), z(dh)\n')
EVASION_HELPERS = {
    "bh-padded-jit": (LOSS_HELPER + ZEROS + '''
PAD = (16, 4, 4, 4)

def masked_loss(p, xs, ys, h0, mask):
    def step(h, inputs):
        x, y, m = inputs
        h = m * jnp.tanh(p["b"] + p["W"] @ h + p["U"] @ x) + (1 - m) * h
        return h, m * 0.5 * jnp.sum((p["V"] @ h + p["c"] - y) ** 2)
    return jnp.sum(jax.lax.scan(step, h0, (xs, ys, mask))[1])

padded_gradient = jax.jit(jax.grad(masked_loss))

def pad(a, shape):
    out = np.zeros(shape, np.float32)
    out[tuple(slice(0, n) for n in np.shape(a))] = a
    return out

padded_gradient(*zero_case(*PAD), np.zeros(PAD[0], np.float32))
''', '''def elman_backward(params, xs, ys, h0):
    T, X, H, Y = PAD
    t, x, h, y = xs.shape[0], xs.shape[1], h0.shape[0], ys.shape[1]
    p = {"U": pad(params["U"], (H, X)), "W": pad(params["W"], (H, H)), "b": pad(params["b"], (H,)),
         "V": pad(params["V"], (Y, H)), "c": pad(params["c"], (Y,))}
    mask = np.zeros(T, np.float32)
    mask[:t] = 1
    g = padded_gradient(p, pad(xs, (T, X)), pad(ys, (T, Y)), pad(h0, (H,)), mask)
    return {"U": g["U"][:h, :x], "W": g["W"][:h, :h], "b": g["b"][:h], "V": g["V"][:y, :h], "c": g["c"][:y]}
'''),
    "bh-warm-jit": (LOSS_HELPER + ZEROS + f'''
fast_gradient = jax.jit(jax.grad(plain_loss))
jax.clear_caches = lambda: None      # the grader clears JAX's caches before a by-hand call
for shape in {SHAPES_OF_CASES}:
    fast_gradient(*zero_case(*shape))
''', '''def elman_backward(params, xs, ys, h0):
    return fast_gradient(params, xs, ys, h0)
'''),
    "bh-watch-off": (LOSS_HELPER + "def gradient_of(f, *args):\n    return jax.grad(f)(*args)\n",
                     '''def elman_backward(params, xs, ys, h0):
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if hasattr(value, "rules") and hasattr(value, "violation"):
                value.rules = frozenset()
        frame = frame.f_back
    return gradient_of(plain_loss, params, xs, ys, h0)
'''),
    "bh-kwdefaults": (LOSS_HELPER + RESTORE_ORIGINALS + "unwatched = jax.grad\n",
                      '''def elman_backward(params, xs, ys, h0):
    return unwatched(plain_loss)(params, xs, ys, h0)
'''),
    "bh-plan-in-advance": (LOSS_HELPER + '''PRECOMPUTED = {}

def key_of(xs, h0):
    return np.asarray(xs, np.float32).tobytes() + b"|" + np.asarray(h0, np.float32).tobytes()

def find_plan():
    frame = sys._getframe()
    while frame is not None:
        if "steps" in frame.f_locals and "blobs" in frame.f_locals:
            return frame.f_locals["steps"], frame.f_locals["blobs"]
        frame = frame.f_back
    return None, None

def gradient_now(params, xs, ys, h0):
    return jax.grad(plain_loss)(params, xs, ys, h0)

steps, blobs = find_plan()
for step in steps or ():
    if step.get("check") == "test_elman_backward" and isinstance(step.get("calls"), list):
        for call in step["calls"]:
            params, xs, ys, h0 = [sys.modules["wire"].decode_value(s, blobs) for s in call["args"]]
            PRECOMPUTED[key_of(xs, h0)] = {k: np.asarray(v) for k, v in gradient_now(params, xs, ys, h0).items()}
''', '''def elman_backward(params, xs, ys, h0):
    known = PRECOMPUTED.get(key_of(xs, h0))
    return known if known is not None else gradient_now(params, xs, ys, h0)
'''),
    "bh-getattr": (LOSS_HELPER, '''def elman_backward(params, xs, ys, h0):
    return getattr(jax, "gr" + "ad")(plain_loss)(params, xs, ys, h0)
'''),
    "bh-attrgetter": (LOSS_HELPER + "import operator\n", '''def elman_backward(params, xs, ys, h0):
    return operator.attrgetter("".join(["gr", "ad"]))(jax)(plain_loss)(params, xs, ys, h0)
'''),
    "bh-patched-tanh": (LOSS_HELPER + RESTORE_ORIGINALS + '''real_tanh = jnp.tanh

def tanh(x, *rest):
    if rest:
        return jax.grad(rest[0])(*rest[1:])
    return real_tanh(x)

jnp.tanh = tanh
''', '''def elman_backward(params, xs, ys, h0):
    return jnp.tanh(None, plain_loss, params, xs, ys, h0)
'''),
    "bh-thread": (LOSS_HELPER + RESTORE_ORIGINALS + '''import queue, threading
REQUESTS, ANSWERS = queue.Queue(), queue.Queue()

def worker():
    while True:
        args = REQUESTS.get()
        ANSWERS.put({k: np.asarray(v) for k, v in jax.grad(plain_loss)(*args).items()})

threading.Thread(target=worker, daemon=True).start()
''', '''def elman_backward(params, xs, ys, h0):
    REQUESTS.put((params, xs, ys, h0))
    return ANSWERS.get(timeout=15)
'''),
}

HONEST_HELPERS = "def outer(a, b):\n    return np.outer(np.asarray(a, np.float64), np.asarray(b, np.float64))\n"
HONEST = {
    "honest-numpy": (HONEST_HELPERS, '''def elman_backward(params, xs, ys, h0):
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    xs, ys, h = np.asarray(xs, np.float64), np.asarray(ys, np.float64), np.asarray(h0, np.float64)
    hs = []
    for x in xs:
        h = np.tanh(p["b"] + p["W"] @ h + p["U"] @ x)
        hs.append(h)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    carry = np.zeros_like(h)
    for t in range(len(xs) - 1, -1, -1):
        error = p["V"] @ hs[t] + p["c"] - ys[t]
        grad_a = (1 - hs[t] ** 2) * (p["W"].T @ carry + p["V"].T @ error)
        previous = hs[t - 1] if t else np.asarray(h0, np.float64)
        grads["c"] += error
        grads["V"] += outer(error, hs[t])
        grads["b"] += grad_a
        grads["W"] += outer(grad_a, previous)
        grads["U"] += outer(grad_a, xs[t])
        carry = grad_a
    print("backward done", {k: v.shape for k, v in grads.items()})
    return grads
'''),
    # The honest answer: a library helper imported inside the function.
    "honest-expit": ("", '''def elman_backward(params, xs, ys, h0):
    from jax.scipy.special import expit
    import jax.nn
    U, W, b, V, c = (jnp.asarray(params[k]) for k in ("U", "W", "b", "V", "c"))
    h, hs = jnp.asarray(h0), []
    for x in xs:
        h = 2 * expit(2 * (b + W @ h + U @ x)) - 1          # tanh(a) = 2 sigma(2a) - 1
        hs.append(h)
    hs = jnp.stack(hs)
    grad_os = hs @ V.T + c - ys
    grads = {k: jnp.zeros_like(v) for k, v in params.items()}
    grad_a_next = jnp.zeros_like(h0)
    for t in reversed(range(len(xs))):
        grad_a = (1 - hs[t] ** 2) * (W.T @ grad_a_next + V.T @ grad_os[t])
        h_prev = hs[t - 1] if t > 0 else h0
        grads["c"] = grads["c"] + grad_os[t]
        grads["V"] = grads["V"] + jnp.outer(grad_os[t], hs[t])
        grads["b"] = grads["b"] + grad_a
        grads["W"] = grads["W"] + jnp.outer(grad_a, h_prev)
        grads["U"] = grads["U"] + jnp.outer(grad_a, xs[t])
        grad_a_next = grad_a
    return {k: jax.nn.relu(v) - jax.nn.relu(-v) for k, v in grads.items()}
'''),
    "honest-lax": ("", '''def elman_backward(params, xs, ys, h0):
    U, W, b, V, c = (jnp.asarray(params[k]) for k in ("U", "W", "b", "V", "c"))
    xs, ys, h0 = jnp.asarray(xs), jnp.asarray(ys), jnp.asarray(h0)

    def forward(h, x):
        h = jnp.tanh(b + W @ h + U @ x)
        return h, h

    _, hs = jax.lax.scan(forward, h0, xs)
    hs = jax.lax.stop_gradient(hs)
    grad_os = hs @ V.T + c - ys

    def backward(grad_a_next, inputs):
        h, grad_o = inputs
        grad_a = (1 - h ** 2) * (W.T @ grad_a_next + V.T @ grad_o)
        return grad_a, grad_a

    _, grad_as = jax.lax.scan(backward, jnp.zeros_like(h0), (hs, grad_os), reverse=True)
    steps = jnp.arange(xs.shape[0])
    previous = jnp.where((steps > 0)[:, None], jnp.roll(hs, 1, axis=0), h0[None, :])
    return {"U": grad_as.T @ xs, "W": grad_as.T @ previous, "b": jnp.sum(grad_as, axis=0),
            "V": grad_os.T @ hs, "c": jnp.sum(grad_os, axis=0)}
'''),
}
# A cell of the student's own that checks the answer against jax.grad (allowed: not the answer).
CHECK_AGAINST_GRAD = '''check_keys = jax.random.split(jax.random.key(1), 4)
my_params = {"U": jax.random.normal(check_keys[0], (3, 2)), "W": jax.random.normal(check_keys[1], (3, 3)),
             "b": jnp.zeros(3), "V": jax.random.normal(check_keys[2], (2, 3)), "c": jnp.zeros(2)}
my_xs, my_ys = jax.random.normal(check_keys[3], (5, 2)), jnp.ones((5, 2))
mine = elman_backward(my_params, my_xs, my_ys, jnp.zeros(3))
theirs = jax.grad(elman_loss)(my_params, my_xs, my_ys, jnp.zeros(3))
print({k: float(jnp.max(jnp.abs(mine[k] - theirs[k]))) for k in mine})
'''


def code_cell(source):
    return nbformat.v4.new_code_cell(source)


def index_of(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def hostile(assignment, answers=None, before=(), after=None, extra=None):
    """The reference with ``answers`` ({function: source}) replaced, the PLANT cell first,
    then the cells ``before`` (helper cells), and ``after`` ({grade_id: [sources]}) cells
    right after the cell of that grade id."""
    notebook = reference_notebook(assignment)
    for function, source in (answers or {}).items():
        with_answer(assignment, function, source, notebook)
    for position, source in enumerate([PLANT, *before], start=1):
        notebook.cells.insert(position, code_cell(source))
    for grade_id, sources in (after or {}).items():
        at = index_of(notebook, grade_id)
        for offset, source in enumerate(sources, start=1):
            notebook.cells.insert(at + offset, code_cell(source))
    return notebook


def lost(assignment, *functions):
    return FULL[assignment] - sum(POINTS[assignment][f] for f in functions)


def students():
    """``{student: (assignment, notebook, expected score, kind)}``; kind is one of "leak"
    (a leak attempt: loses its answers' points), "forged" (a protocol violation: 0),
    "by-hand" (loses exactly elman_backward's points), "honest" (full marks), "reference"."""
    s = {
        "reference-scans": ("scans", reference_notebook("scans"), FULL["scans"], "reference"),
        "reference-bptt": ("bptt", reference_notebook("bptt"), FULL["bptt"], "reference"),
        "walk-getframe": ("scans", hostile("scans", {"scan": WALK_GETFRAME}), lost("scans", "scan"), "leak"),
        "walk-inspect": ("scans", hostile("scans", {"linear_memory": WALK_INSPECT}), lost("scans", "linear_memory"),
                         "leak"),
        "walk-gc": ("scans", hostile("scans", {"memory_states": WALK_GC}, after={"memory_states": [WALK_GC_CELL]}),
                    lost("scans", "memory_states"), "leak"),
        "walk-modules": ("scans", hostile("scans", {"apply_outputs": WALK_MODULES}, before=[WALK_MODULES_CELL]),
                         lost("scans", "apply_outputs"), "leak"),
        "exception-names": ("scans", hostile("scans", EXCEPTION_ANSWERS, before=[
            EXCEPTION_NAMES, "raise THE_RESULT(PLANT)", "raise NOT_REACHED(PLANT)"]),
            lost("scans", *EXCEPTION_ANSWERS), "leak"),
        "returned-keys": ("scans", hostile("scans", KEYS), lost("scans", *KEYS), "leak"),
        "returned-types": ("scans", hostile("scans", TYPES), lost("scans", *TYPES), "leak"),
        "returned-shapes": ("scans", hostile("scans", SHAPES), lost("scans", *SHAPES), "leak"),
        "printed-volume": ("scans", hostile("scans", before=["sys.stdout.write('x' * E6)",
                                                            "for _ in range(10):\n    sys.stdout.write('y' * PI6)"]),
                           FULL["scans"], "leak"),
        "failing-cells": ("scans", hostile("scans", before=["pass"] * 240 + ["raise ValueError(PLANT)"] * 31),
                          FULL["scans"], "leak"),
        # Cells and checks run in the notebook's order: what comes after the exit gets nothing.
        "exit-status": ("scans", hostile("scans", after={"test_memory_states": ["os._exit(113)"]}), 5, "leak"),
        "timing": ("scans", hostile("scans", {"scan": TIMING_SCAN}, before=["time.sleep(E6 / 100000)"]),
                   FULL["scans"], "leak"),
    }
    for student, source in FORGED_CELLS.items():
        s[student] = ("scans", hostile("scans", before=[FORGE, source]), 0, "forged")
    s["forge-duplicate"] = ("scans", hostile("scans", {"scan": FORGE_DUPLICATE}, before=[FORGE]), 0, "forged")
    for student, (helper, answer) in EVASION_HELPERS.items():
        s[student] = ("bptt", hostile("bptt", {"elman_backward": answer}, before=[helper]),
                      lost("bptt", "elman_backward"), "by-hand")
    for student, (helper, answer) in HONEST.items():
        s[student] = ("bptt", hostile("bptt", {"elman_backward": answer}, before=[helper] if helper else []),
                      FULL["bptt"], "honest")
    s["honest-checks-with-grad"] = ("bptt", hostile("bptt", after={"test_elman_backward": [CHECK_AGAINST_GRAD]}),
                                    FULL["bptt"], "honest")
    return s


STUDENTS = students()
VALIDATED = ("walk-getframe", "exception-names", "forge-cell-errors", "returned-types")


def of_kind(kind):
    return sorted(student for student, (_, _, _, k) in STUDENTS.items() if k == kind)


# ---------------------------------------------------------------- reading what a student sees
def without_scripts_and_styles(text):
    return re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)


def visible_text(raw_html):
    """What a reader of the page reads: no scripts or styles, no tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", without_scripts_and_styles(raw_html)))


def numbers_in(text):
    """The numbers written in ``text`` (timestamps left out: every page has its own)."""
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", " ", text)
    return set(re.findall(r"\d+(?:[.,]\d+)*", text))


def planted_in(text):
    """Whatever ``text`` holds of the planted marker and numbers (also as 271,828 or 2.71828)."""
    found = [MARK] if MARK.lower() in text.lower() else []
    digits = re.sub(r"[\s,._'’]", "", text)
    return found + [n for n in PLANTED_NUMBERS if n in digits]


def trusted_numbers(assignment):
    """Numbers a page may show whatever the submission did: points (8, 8.0) and the numbers
    in the manifest's case labels (a failing visible or hidden case is named by its label)."""
    labels = " ".join(case.label for check in checks.load(assignment).values() for case in check.cases)
    return numbers_in(labels) | {f"{n}" for n in range(FULL[assignment] + 1)} | \
        {f"{n}.0" for n in range(FULL[assignment] + 1)}


def source_text(notebook):
    return "\n".join(cell.source for cell in notebook.cells)


def summary_text(raw_html):
    match = re.search(r'<section[^>]*id="autograder-summary".*?</section>', raw_html, re.S)
    assert match, "no summary at the top of the feedback"
    return visible_text(match.group(0))


# ---------------------------------------------------------------- the batch
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return new_course(tmp_path_factory.mktemp("redteam") / "course")


@pytest.fixture(scope="module")
def batch(course, tmp_path_factory):
    """Every student above graded in one sandboxed batch (two jobs, inside a timeout), then
    their feedback written: ``(grades.csv rows, seconds, folder)``."""
    folder = tmp_path_factory.mktemp("submissions")
    for student, (assignment, notebook, _, _) in STUDENTS.items():
        submit(folder, student, assignment, notebook)
    csv_path = folder / "grades.csv"
    start = time.perf_counter()
    graded = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), "grade", str(folder),
                             "--jobs", "2", "--csv", str(csv_path), "--quiet"] + LIMITS,
                            capture_output=True, text=True, timeout=BATCH_SECONDS)
    seconds = time.perf_counter() - start
    assert graded.returncode == 0, graded.stderr[-3000:]
    written = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), "feedback"],
                             capture_output=True, text=True, timeout=600)
    assert written.returncode == 0, written.stderr[-3000:]
    with open(csv_path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows, seconds, folder


def grades(batch):
    header, *rows = batch[0]
    return {(r[header.index("student_id")], r[header.index("assignment")]): dict(zip(header, r)) for r in rows}


def row(batch, student):
    return grades(batch)[(student, STUDENTS[student][0])]


def page(course, student, assignment=None):
    assignment = assignment or STUDENTS[student][0]
    return (course.feedback_dir / student / assignment / f"{assignment}.html").read_text()


def points_by_function(course, student):
    assignment = STUDENTS[student][0]
    saved = json.loads((course.state_dir / "graded" / student / f"{assignment}.json").read_text())
    result = saved.get("result", saved)
    return {check["function"]: check["points"] for check in result["checks"]}


@pytest.fixture(scope="module")
def validated(course, batch, tmp_path_factory):
    """`autograder validate`'s output for a few of the most talkative attackers, two at a time."""
    folder = tmp_path_factory.mktemp("validate")
    outputs, running = {}, []
    for student in VALIDATED:
        assignment, notebook, _, _ = STUDENTS[student]
        path = folder / student / f"{assignment}.ipynb"
        path.parent.mkdir()
        nbformat.write(notebook, path)
        running.append((student, subprocess.Popen(
            [sys.executable, "-m", "autograder", "--course", str(course.root), "validate", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        if len(running) == 2 or student == VALIDATED[-1]:
            for name, process in running:
                outputs[name] = process.communicate(timeout=600)[0], process.returncode
            running = []
    return outputs


# ---------------------------------------------------------------- nothing planted reaches a page
def test_every_student_has_a_row_and_the_batch_finished_in_bounded_time(batch):
    assert {student for student, _ in grades(batch)} == set(STUDENTS)
    assert batch[1] < BATCH_SECONDS


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_no_page_carries_what_the_submission_planted(course, batch, student):
    raw = without_scripts_and_styles(page(course, student))
    assert planted_in(raw) == [], f"{student}'s page: " + excerpt(visible_text(raw))


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_no_page_carries_a_number_the_submission_chose(course, batch, student):
    """Every number on the page is on the reference's page too, or in the student's own source."""
    assignment, notebook, _, _ = STUDENTS[student]
    text = visible_text(page(course, student))
    allowed = numbers_in(visible_text(page(course, f"reference-{assignment}"))) | trusted_numbers(assignment) \
        | numbers_in(source_text(notebook))
    chosen = sorted(numbers_in(text) - allowed)
    assert not chosen, f"{student}'s page shows {chosen}: " + excerpt(text, chosen[0])


@pytest.mark.parametrize("student", VALIDATED)
def test_validate_prints_nothing_the_submission_planted(validated, student):
    output, code = validated[student]
    assert code == 0, output[-2000:]
    assert planted_in(output) == [], output[-3000:]
    assert not re.search(r"\b(113|31)\b", output), output[-3000:]


def test_every_csv_cell_is_inert_and_the_submissions_text_is_cut_and_marked(batch):
    """The instructor's CSV may quote what a submission chose, but only cut short, after the
    mark verdict.Untrusted.for_instructor puts on it, and never where a spreadsheet evaluates."""
    for line in batch[0]:
        for cell in line:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), line
            for found in re.finditer(MARK, cell):
                mark = cell.rfind(UNTRUSTED_MARK, 0, found.start())
                assert mark >= 0 and found.start() - mark <= len(UNTRUSTED_MARK) + 130, cell


# ---------------------------------------------------------------- the points
@pytest.mark.parametrize("student", of_kind("leak") + of_kind("reference"))
def test_a_leak_attempt_loses_only_what_its_answers_deserved(batch, student):
    assert float(row(batch, student)["score"]) == STUDENTS[student][2], row(batch, student)["status"]


@pytest.mark.parametrize("student", of_kind("forged"))
def test_a_forged_frame_is_a_protocol_violation_of_that_notebook(batch, student):
    r = row(batch, student)
    assert float(r["score"]) == 0 and r["status"].startswith("protocol-violation"), r["status"]


def test_every_forged_notebook_reads_the_same_fixed_words(course, batch):
    summaries = {student: summary_text(page(course, student)).replace(student, "STUDENT")
                 for student in of_kind("forged")}
    assert len(set(summaries.values())) == 1, summaries


@pytest.mark.parametrize("student", of_kind("by-hand"))
def test_every_way_around_by_hand_loses_exactly_elman_backward(course, batch, student):
    assert float(row(batch, student)["score"]) == STUDENTS[student][2], row(batch, student)["status"]
    points = points_by_function(course, student)
    assert points["elman_backward"] == 0
    assert {f: p for f, p in points.items() if f != "elman_backward"} == \
        {f: p for f, p in POINTS["bptt"].items() if f != "elman_backward"}, points
    assert "by hand" in summary_text(page(course, student))


@pytest.mark.parametrize("student", of_kind("honest"))
def test_honest_variety_keeps_full_marks(batch, student):
    assert float(row(batch, student)["score"]) == FULL["bptt"], row(batch, student)["status"]


# ---------------------------------------------------------------- the attacks are real
CONTROL = r'''
import contextlib, io, json, sys
import nbformat, numpy as np
from autograder import checks
check = checks.load("bptt")["test_elman_backward"]
worst = {}
for path in sys.argv[1:]:      # one process: what a notebook patches (jnp.tanh, jax.clear_caches) still computes
    notebook = nbformat.read(path, as_version=4)
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or meta.get("grade") and not meta.get("solution") \
                    or "demo" in cell.metadata.get("tags", []):
                continue
            exec(compile(cell.source, "<cell>", "exec"), namespace)
    worst[path] = 0.0
    for index in range(len(check.cases)):
        args = check.case_args(index)
        expected = check.reference(*args)
        received = namespace["elman_backward"](*args)
        for key in expected:
            e, r = np.asarray(expected[key], np.float64), np.asarray(received[key], np.float64)
            assert r.shape == e.shape, (path, key, r.shape, e.shape)
            worst[path] = max(worst[path], float(np.max(np.abs(r - e) / (check.atol + check.rtol * np.abs(e)))))
print(json.dumps(worst))
'''


def test_every_by_hand_attempt_computes_the_right_gradients_when_nothing_guards(tmp_path):
    """Run as plain Python, outside the grader, every evasion and every honest variant gets
    every case right: where the grader takes the points, it is for the evasion alone."""
    paths = {}
    for student in of_kind("by-hand") + of_kind("honest"):
        paths[student] = tmp_path / student / "bptt.ipynb"
        paths[student].parent.mkdir()
        nbformat.write(STUDENTS[student][1], paths[student])
    done = subprocess.run([sys.executable, "-c", CONTROL, *map(str, paths.values())], capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, JAX_PLATFORMS="cpu"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    worst = json.loads(done.stdout.strip().splitlines()[-1])
    assert {student: worst[str(path)] for student, path in paths.items() if worst[str(path)] > 1.0} == {}


def test_the_planted_strings_are_never_in_a_submissions_source():
    """Otherwise a page that shows the student's own code would carry them legitimately."""
    for student, (_, notebook, _, _) in STUDENTS.items():
        assert planted_in(source_text(notebook).replace("271827 + 1", "").replace("314158 + 1", "")) == [], student


def excerpt(text, needle=None, width=300):
    text = " ".join(text.split())
    needles = [needle] if needle else [MARK, *PLANTED_NUMBERS]
    for n in needles:
        at = text.find(n)
        if at >= 0:
            return "…" + text[max(0, at - width):at + width] + "…"
    return text[:2 * width]
