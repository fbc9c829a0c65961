"""What a homework answer may not use, found by reading its source (no code runs).

A ``Rule`` names forbidden things as dotted names: ``"lectlib"`` forbids the module and
everything in it, ``"jax.grad"`` forbids that function. ``violations(source, rules)``
reads one cell's source with the standard library's ``ast`` and returns every use it
finds, with the line. It follows what a student might write:

- imports: ``import lectlib``, ``from lectlib.bptt import elman_grads``, ``from jax import grad``,
  ``from jax import *`` (then a bare ``grad``), aliases (``import jax as j`` ... ``j.grad``);
- attribute chains: ``jax.grad``, ``jax._src.api.vjp``, ``j.experimental.jet.jet``;
- ``getattr(jax, "grad")``, ``jax.__dict__["grad"]``, ``vars(jax)["grad"]``,
  ``sys.modules["lectlib"]`` with literal strings;
- ``__import__("lectlib")`` and ``importlib.import_module("lectlib")``.

Names built at run time (``getattr(jax, "gr" + "ad")``) cannot be seen here; the grader
also watches the same rules while the answer runs. The students' visible tests call
``violations`` to warn early; the grader calls it on every answer cell.

Example::

    >>> from lectlib.homework.rules import NO_AUTODIFF, violations, message
    >>> found = violations("def f(p):\\n    return jax.grad(loss)(p)", [NO_AUTODIFF])
    >>> message("elman_backward", found[0])
    'elman_backward: uses jax.grad (line 2); this exercise is by hand'
"""
import ast
import dataclasses


@dataclasses.dataclass(frozen=True)
class Rule:
    """``name``: a short identifier (``"no-autodiff"``); ``forbidden``: dotted names, each
    forbidding itself and everything below it; ``reason``: the end of the message."""
    name: str
    forbidden: tuple
    reason: str

    def matches(self, dotted):
        """The forbidden name that ``dotted`` falls under, or ``None``."""
        for name in self.forbidden:
            if dotted == name or dotted.startswith(name + "."):
                return name
        return None


@dataclasses.dataclass(frozen=True)
class Violation:
    """One forbidden use: the ``rule``'s name, what was ``used`` (``"jax.grad"``), the
    ``line`` in the cell (1-based) and the rule's ``reason``."""
    rule: str
    used: str
    line: int
    reason: str


def message(function, violation):
    """``"elman_backward: uses jax.grad (line 2); this exercise is by hand"``. The
    homework's by-hand rules; tests/test_autograder_rules.py."""
    where = f" (line {violation.line})" if violation.line else ""
    return f"{function}: uses {violation.used}{where}; {violation.reason}"


NO_LECTLIB = Rule("no-lectlib", ("lectlib",),
                  "graded answers may not use lectlib (its functions solve the homework)")

_AUTODIFF_FUNCTIONS = ("grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "jacobian", "hessian",
                       "linearize", "linear_transpose", "custom_vjp", "custom_jvp", "custom_gradient",
                       "closure_convert")
NO_AUTODIFF = Rule(
    "no-autodiff",
    tuple(f"jax.{name}" for name in _AUTODIFF_FUNCTIONS)
    + tuple(f"jax._src.api.{name}" for name in _AUTODIFF_FUNCTIONS if not name.startswith(("custom", "closure")))
    + ("jax._src.custom_derivatives", "jax.custom_derivatives", "jax._src.interpreters.ad", "jax.interpreters.ad",
       "jax._src.ad_checkpoint", "jax.experimental.jet", "jax.experimental.ode", "jax.extend.ad",
       "autograd", "torch.autograd", "torch.func"),
    "this exercise is by hand")

_IMPORTERS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}


def _without_magics(source):
    """Jupyter's ``%magic`` and ``!shell`` lines become ``pass`` (as the grader runs them)."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[:len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Finder(ast.NodeVisitor):
    def __init__(self, rules):
        self.rules = rules
        self.aliases = {}          # local name -> dotted name it stands for
        self.found = {}

    # ---- names
    def resolve(self, node):
        """The dotted name an expression stands for, when it can be read off the source."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript):
            key = _literal(node.slice)
            if key is None:
                return None
            target = node.value
            if isinstance(target, ast.Attribute) and target.attr == "__dict__":
                base = self.resolve(target.value)
                return f"{base}.{key}" if base else None
            if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == "vars" \
                    and len(target.args) == 1:
                base = self.resolve(target.args[0])
                return f"{base}.{key}" if base else None
            if self.resolve(target) == "sys.modules":
                return key
            return None
        if isinstance(node, ast.Call):
            function = self.resolve(node.func)
            first = _literal(node.args[0]) if node.args else None
            if function in _IMPORTERS and first:
                return first
            if function == "getattr" and len(node.args) >= 2:
                attribute = _literal(node.args[1])
                if attribute:
                    base = self.resolve(node.args[0])
                    dotted = f"{base}.{attribute}" if base else None
                    if dotted and any(rule.matches(dotted) for rule in self.rules):
                        return dotted
                    return f"getattr(..., {attribute!r})"   # an object we cannot name: judged by the attribute
        return None

    def report(self, dotted, line):
        if not dotted:
            return False
        reported = False
        for rule in self.rules:
            if dotted.startswith("getattr(..., "):
                leaf = dotted[len("getattr(..., '"):-2]
                hit = next((name for name in rule.forbidden if name.rsplit(".", 1)[-1] == leaf), None)
            else:
                hit = rule.matches(dotted)
            if hit:
                self.found.setdefault((rule.name, dotted, line), Violation(rule.name, dotted, line, rule.reason))
                reported = True
        return reported

    # ---- imports bind names
    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases.setdefault(top, top)
            self.report(alias.name, node.lineno)

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        if self.report(node.module, node.lineno):
            return
        for alias in node.names:
            if alias.name == "*":
                for rule in self.rules:
                    for name in rule.forbidden:
                        parent, _, leaf = name.rpartition(".")
                        if parent == node.module:
                            self.aliases[leaf] = name
                continue
            dotted = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = dotted
            self.report(dotted, node.lineno)

    # ---- uses: report the longest chain that matches, not each of its parts
    def visit_Attribute(self, node):
        if not self.report(self.resolve(node), node.lineno):
            self.generic_visit(node)

    def visit_Subscript(self, node):
        if not self.report(self.resolve(node), node.lineno):
            self.generic_visit(node)

    def visit_Call(self, node):
        if not self.report(self.resolve(node), node.lineno):
            self.generic_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.report(self.aliases.get(node.id, node.id), node.lineno)


def violations(source, rules):
    """Every use in ``source`` of what ``rules`` forbid.

    Arguments:
        source: one cell's Python source (``%magic`` and ``!shell`` lines are ignored).
        rules: ``Rule`` objects, e.g. ``[NO_LECTLIB, NO_AUTODIFF]``.
    Returns:
        ``[Violation]`` in source order, one per (rule, name, line); ``[]`` when nothing is
        found or the source is not valid Python (running it will say what is wrong).
    The homework's by-hand rules; tested in ``tests/test_autograder_rules.py``.
    """
    rules = list(rules)
    if not rules:
        return []
    try:
        tree = ast.parse(_without_magics(source))
    except (SyntaxError, ValueError):
        return []
    finder = _Finder(rules)
    # Imports anywhere in the cell bind names for the whole cell (a function body may use a
    # name imported below it), so bind them first, then look at every use.
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _bind_only(finder, node)
    finder.visit(tree)
    return sorted(finder.found.values(), key=lambda v: (v.line, v.used, v.rule))


def _bind_only(finder, node):
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                finder.aliases[alias.asname] = alias.name
    elif not node.level and node.module:
        for alias in node.names:
            if alias.name != "*":
                finder.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
