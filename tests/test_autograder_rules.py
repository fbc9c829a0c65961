"""The static rule checker (lectlib.homework.rules): what it finds in an answer's source,
what it leaves alone. Pure ``ast``: nothing runs, so these take milliseconds."""
import pytest

from lectlib.homework.rules import NO_AUTODIFF, NO_LECTLIB, Rule, message, violations

BOTH = [NO_LECTLIB, NO_AUTODIFF]


def used(source, rules=BOTH):
    return [(v.used, v.line) for v in violations(source, rules)]


@pytest.mark.parametrize("source, expected", [
    ("def elman_backward(p):\n    return jax.grad(loss)(p)", [("jax.grad", 2)]),
    ("import jax as j\ndef f(p):\n    return j.value_and_grad(l)(p)[1]", [("jax.value_and_grad", 3)]),
    ("from jax import grad\ndef f(p):\n    return grad(l)(p)", [("jax.grad", 1), ("jax.grad", 3)]),
    ("from jax import vjp as backwards\nbackwards(f, x)", [("jax.vjp", 1), ("jax.vjp", 2)]),
    ("from jax import *\ndef f(p):\n    return hessian(l)(p)", [("jax.hessian", 3)]),
    ("def f(p):\n    return getattr(jax, 'jacrev')(l)(p)", [("jax.jacrev", 2)]),
    ("def f(p):\n    return getattr(thing, 'grad')(l)(p)", [("getattr(..., 'grad')", 2)]),
    ("jax.__dict__['jvp'](f, (x,), (t,))", [("jax.jvp", 1)]),
    ("vars(jax)['linearize'](f, x)", [("jax.linearize", 1)]),
    ("def f(p):\n    return jax._src.api.vjp(l, p)", [("jax._src.api.vjp", 2)]),
    ("from jax._src.interpreters import ad\nad.jvp", [("jax._src.interpreters.ad", 1), ("jax._src.interpreters.ad.jvp", 2)]),
    ("@jax.custom_vjp\ndef f(x):\n    return x", [("jax.custom_vjp", 1)]),
    ("jax.linear_transpose(f, x)", [("jax.linear_transpose", 1)]),
    ("import lectlib", [("lectlib", 1)]),
    ("import lectlib.bptt as b\nb.elman_grads(p)", [("lectlib.bptt", 1), ("lectlib.bptt.elman_grads", 2)]),
    ("from lectlib import scan\nscan(f, h, xs)", [("lectlib", 1), ("lectlib.scan", 2)]),
    ("def f():\n    return lectlib.bptt.elman_grads(1)", [("lectlib.bptt.elman_grads", 2)]),
    ("m = __import__('lectlib')", [("lectlib", 1)]),
    ("import importlib\nm = importlib.import_module('lectlib.losses')", [("lectlib.losses", 2)]),
    ("import sys\nsys.modules['lectlib'].scan", [("lectlib.scan", 2)]),
])
def test_forbidden_uses_are_found_with_their_line(source, expected):
    assert used(source) == expected


@pytest.mark.parametrize("source", [
    "def elman_backward(params, xs, ys, h0):\n    grads = {k: np.zeros_like(v) for k, v in params.items()}\n"
    "    grad_h = np.zeros(3)\n    for t in reversed(range(len(xs))):\n        grad_h = grad_h * 2\n    return grads",
    "%timeit f(1)\n!ls -l\nimport numpy as np\nx = np.float64(1)",
    "import jax.numpy as jnp\njax.lax.scan(f, h, xs)\njnp.tanh(x)\njax.nn.softmax(x)",
    "def f(params):\n    return getattr(params, 'W')",
    "this is not python (",
])
def test_honest_code_is_left_alone(source):
    assert violations(source, BOTH) == []


def test_rules_apply_only_when_asked():
    assert used("jax.grad(f)", [NO_LECTLIB]) == []
    assert used("import lectlib", [NO_AUTODIFF]) == []
    assert violations("import lectlib", []) == []


def test_a_rule_forbids_a_name_and_what_lies_below_it_but_not_its_lookalikes():
    rule = Rule("no-x", ("pkg.f",), "no")
    assert rule.matches("pkg.f") == rule.matches("pkg.f.g") == "pkg.f"
    assert rule.matches("pkg.foo") is None and rule.matches("pkg") is None


def test_the_message_names_the_function_the_use_and_the_line():
    found = violations("def f(p):\n    return jax.grad(loss)(p)", [NO_AUTODIFF])
    assert message("elman_backward", found[0]) == "elman_backward: uses jax.grad (line 2); this exercise is by hand"
