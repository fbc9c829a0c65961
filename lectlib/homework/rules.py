"""What a homework answer may not use, found by reading its source (no code runs).

A ``Rule`` names forbidden things as dotted names: ``"lectlib"`` forbids the module and
everything in it, ``"jax.grad"`` forbids that function. Two readers:

- ``closure_violations(cells, function, rules)`` (what grading and the notebook check use)
  reads every code cell of the student's, finds what the graded ``function`` uses, across
  cells and transitively (helper functions, classes, globals and whatever fills or changes
  them, plus statements that change what any code does without being named: patching a
  library, hooks, threads, top-level ``exec``), and reports every forbidden name there and
  every way around a name (rule ``"write-plainly"``: ``getattr`` with a built name,
  ``sys.modules``, frames, ``globals()``, ``__kwdefaults__``, ``exec``...). A student's own
  check cell that compares the answer with ``jax.grad`` is not part of what the answer uses.
- ``violations(source, rules)`` reads one cell alone.

Both follow what a student might write:

- imports: ``import lectlib``, ``from lectlib.bptt import elman_grads``, ``from jax import grad``,
  ``from jax import *`` (then a bare ``grad``), aliases (``import jax as j`` ... ``j.grad``);
- attribute chains: ``jax.grad``, ``jax._src.api.vjp``, ``j.experimental.jet.jet``;
- ``getattr(jax, "grad")``, ``jax.__dict__["grad"]``, ``vars(jax)["grad"]``,
  ``sys.modules["lectlib"]`` with literal strings;
- ``__import__("lectlib")`` and ``importlib.import_module("lectlib")``.

A name built at run time (``getattr(jax, "gr" + "ad")``) cannot be read, so building one
is itself what ``"write-plainly"`` forbids. The grader also watches the rules while the
answer runs (a second layer).

Example::

    >>> from lectlib.homework.rules import NO_AUTODIFF, closure_violations, message
    >>> cells = [(3, "from jax import grad as g"), (5, "def f(p):\\n    return g(loss)(p)")]
    >>> [(v.rule, v.used, v.cell, v.line) for v in closure_violations(cells, "f", [NO_AUTODIFF])]
    [('no-autodiff', 'jax.grad', 3, 1), ('no-autodiff', 'jax.grad', 5, 2)]
    >>> message("f", closure_violations(cells, "f", [NO_AUTODIFF])[1])
    'f: uses jax.grad (cell 5, line 2); this exercise is by hand'
"""
import ast
import dataclasses
import functools


@dataclasses.dataclass(frozen=True)
class Rule:
    """``name``: a short identifier (``"no-autodiff"``); ``forbidden``: dotted names, each
    forbidding itself and everything below it; ``reason``: the end of the message;
    ``unwatched``: more forbidden names that only the static check looks for (the grader's
    run-time watch would have to import them first)."""
    name: str
    forbidden: tuple
    reason: str
    unwatched: tuple = ()

    def matches(self, dotted):
        """The forbidden name that ``dotted`` falls under, or ``None``."""
        for name in self.forbidden + self.unwatched:
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


@dataclasses.dataclass(frozen=True)
class ClosureViolation:
    """One forbidden use in what a graded function uses: the ``rule``'s name, what was
    ``used`` (``"jax.grad"``, ``"getattr"``), the ``cell`` (its number as the caller gave
    it) and the ``line`` in that cell (1-based), and the rule's ``reason``."""
    rule: str
    used: str
    cell: int
    line: int
    reason: str


def message(function, violation):
    """``"elman_backward: uses jax.grad (line 2); this exercise is by hand"``; a
    ``ClosureViolation`` names its cell too: ``"(cell 7, line 2)"``. The homework's by-hand
    rules; tests/test_autograder_rules.py."""
    cell = getattr(violation, "cell", None)
    where = ", ".join(part for part in (f"cell {cell}" if cell else "", f"line {violation.line}" if violation.line
                                        else "") if part)
    return f"{function}: uses {violation.used}{f' ({where})' if where else ''}; {violation.reason}"


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
    "this exercise is by hand",
    # jax.scipy.optimize.minimize(..., options={"maxiter": 0}).jac is a gradient.
    ("jax.scipy.optimize", "jax._src.scipy.optimize", "optax.value_and_grad_from_state")
    + tuple(f"jax.experimental.sparse.{name}" for name in ("grad", "value_and_grad", "jacfwd", "jacrev", "jacobian"))
    + tuple(f"flax.{module}.{name}" for module in ("linen", "nnx")
            for name in ("grad", "value_and_grad", "vjp", "jvp", "custom_vjp", "custom_jvp"))
    + tuple(f"equinox.filter_{name}" for name in ("grad", "value_and_grad", "vjp", "jvp", "custom_vjp", "custom_jvp",
                                                  "jacfwd", "jacrev", "hessian")))

# Homework 5 asks for the selective scan with jax.lax.associative_scan: JAX's sequential
# scans are read for (a Python loop cannot be told from the source's names).
NO_SEQUENTIAL_SCAN = Rule("no-sequential-scan", ("jax.lax.scan", "jax.lax.fori_loop", "jax.lax.while_loop",
                                                 "jax.lax.map"),
                          "this exercise asks for jax.lax.associative_scan")

#: The ways around a name: what reaches an object without naming it where it can be read,
#: or changes code or names without naming them. Forbidden wherever a check has a rule.
WRITE_PLAINLY = Rule(
    "write-plainly",
    ("__import__", "importlib", "exec", "eval", "compile", "globals", "vars", "locals", "builtins", "__builtins__",
     "sys.modules", "sys._getframe", "sys._current_frames", "inspect", "gc", "ctypes", "_ctypes",
     "operator.attrgetter", "operator.methodcaller", "types.FunctionType", "types.CodeType", "types.LambdaType",
     "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle", "marshal", "dill", "cloudpickle",
     "os.read", "os.write", "os.pread", "os.pwrite", "os.readv", "os.writev", "os.dup", "os.dup2", "os.fdopen",
     "os.open", "os.memfd_create", "posix", "io.FileIO", "io.open", "_io", "socket", "_socket", "mmap", "sys.stdin",
     "sys.__stdin__", "sys.__stdout__", "sys.__stderr__", "sys.path", "sys.path_importer_cache", "breakpoint", "typing.get_type_hints", "pydoc.locate",
     "pkgutil.resolve_name", "zipimport", "runpy", "code", "codeop", "doctest", "pdb.run", "pdb.runeval",
     "pdb.runctx", "bdb", "cProfile.run", "cProfile.runctx", "profile.run", "profile.runctx", "get_ipython",
     "IPython.get_ipython", "IPython.core.getipython", "IPython.core.interactiveshell", "IPython.embed",
     "IPython.start_ipython",
     # code in another process (whose answer comes back as data)
     "subprocess", "_posixsubprocess", "pty", "multiprocessing", "concurrent.futures.ProcessPoolExecutor",
     "os.system", "os.popen", "os.posix_spawn", "os.posix_spawnp")
    + tuple(f"os.{prefix}{suffix}" for prefix in ("exec", "spawn")
            for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
    "write it plainly: the answer may reach what it uses only by its plain name")

#: The rules' names as students read them (the feedback page, the notebook check).
RULE_TITLES = {"no-autodiff": "by hand: no autodiff", "write-plainly": "by hand: write it plainly",
               "no-lectlib": "no lectlib", "no-sequential-scan": "by hand: jax.lax.associative_scan, no sequential scan"}

_IMPORTERS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
_ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "delattr"}
# Attributes that reach a function's hidden state, a frame, the builtins or every class.
_HIDDEN_ATTRIBUTES = {"__kwdefaults__", "__defaults__", "__closure__", "__globals__", "__code__", "__builtins__",
                      "__subclasses__", "__getattribute__", "__getattr__", "__setattr__", "__delattr__", "__self__",
                      "f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame"}
_OPENERS = {"open", "builtins.open", "io.open", "codecs.open", "pathlib.Path", "pathlib.PosixPath"}
_HIDDEN_PATHS = ("/proc/", "/dev/fd", "/dev/mem")
# Ways around a name that only read (a check cell may use them): not reason enough to take
# a statement that no answer names into every closure.
_READ_ONLY = {"getattr", "operator.attrgetter", "operator.methodcaller", "gc.collect", "gc.isenabled",
              "inspect.getsource", "inspect.getsourcelines", "inspect.signature", "inspect.getdoc",
              "inspect.isfunction", "inspect.isclass", "inspect.getfile", "inspect.getmodule"}
# Statements using these change what any code does without being named (hooks, threads,
# other processes): always part of a closure.
_HOOKS = (
    "threading", "_thread", "signal.signal", "signal.setitimer", "signal.alarm", "sys.settrace", "sys.setprofile",
    "sys.addaudithook", "sys.monitoring", "sys.excepthook", "sys.unraisablehook", "sys.displayhook",
    "sys.breakpointhook", "sys.meta_path", "sys.path_hooks", "sys.setrecursionlimit", "atexit", "weakref.finalize",
    "gc.callbacks", "os.fork", "os.forkpty", "os.register_at_fork", "multiprocessing", "concurrent.futures",
    "asyncio", "sched", "get_ipython", "faulthandler", "exec", "eval", "compile", "__import__", "importlib")
# Calls that do not change their arguments: passing a name to them does not make a
# statement part of what uses that name.
_PURE_CALLS = {"print", "len", "repr", "str", "format", "type", "isinstance", "issubclass", "id", "hash", "float",
               "int", "bool", "complex", "abs", "round", "min", "max", "sum", "sorted", "list", "tuple", "dict",
               "set", "frozenset", "range", "enumerate", "zip", "reversed", "any", "all", "display",
               "numpy.allclose", "numpy.isclose", "numpy.array_equal", "numpy.shape", "numpy.testing.assert_allclose",
               "jax.numpy.allclose", "jax.numpy.isclose", "jax.numpy.array_equal"}
_PURE_METHODS = {"copy", "get", "keys", "values", "items", "sum", "mean", "std", "max", "min", "reshape", "astype",
                 "item", "tolist", "transpose", "ravel", "flatten", "index", "count", "format", "startswith",
                 "endswith", "split", "join", "strip", "dot", "any", "all", "argmax", "argmin", "round"}


def _without_magics(source):
    """Jupyter's ``%magic`` and ``!shell`` lines become ``pass`` (as the grader runs them)."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[:len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


@dataclasses.dataclass
class _Naming:
    """How names read: ``aliases`` (name -> {dotted names}) bound by imports in the code
    being read, for every name; ``outer``: the same from other statements, for names that
    are not a function's own variables; ``local``: ids of ``Name`` nodes that are a
    function's own variables; ``own``: names the student's statements bind (not a library's);
    ``rules``: what ``getattr(x, "name")`` is judged against."""
    aliases: dict = dataclasses.field(default_factory=dict)
    outer: dict = dataclasses.field(default_factory=dict)
    local: frozenset = frozenset()
    own: frozenset = frozenset()
    rules: tuple = ()
    cache: dict = dataclasses.field(default_factory=dict)    # id(node) -> what it stands for

    def name(self, node):
        found = set(self.aliases.get(node.id, ()))
        if id(node) not in self.local:
            found |= self.outer.get(node.id, set())
            if node.id not in self.own and node.id not in self.aliases and node.id not in self.outer:
                found.add(node.id)
        return found


def _resolve(node, naming):
    """The dotted names an expression may stand for (a set: a name imported differently in
    two cells stands for both), when they can be read off the source. Each node is read
    once per naming (a chain thousands of attributes long stays linear)."""
    key = id(node)
    if key not in naming.cache:
        naming.cache[key] = _resolve_once(node, naming)
    return naming.cache[key]


_DEEPEST = 12     # parts of a dotted name worth reading (every forbidden name has fewer)


def _resolve_once(node, naming):
    if isinstance(node, ast.Name):
        return naming.name(node)
    if isinstance(node, ast.Attribute):
        return {f"{base}.{node.attr}" for base in _resolve(node.value, naming) if base.count(".") < _DEEPEST}
    if isinstance(node, ast.Subscript):
        key = _literal(node.slice)
        if key is None:
            return set()
        target = node.value
        if isinstance(target, ast.Attribute) and target.attr == "__dict__":
            return {f"{base}.{key}" for base in _resolve(target.value, naming)}
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == "vars" \
                and len(target.args) == 1:
            return {f"{base}.{key}" for base in _resolve(target.args[0], naming)}
        if "sys.modules" in _resolve(target, naming):
            return {key}
        return set()
    if isinstance(node, ast.Call):
        functions = _resolve(node.func, naming)
        first = _literal(node.args[0]) if node.args else None
        if functions & _IMPORTERS and first:
            return {first}
        if "getattr" in functions and len(node.args) >= 2:
            attribute = _literal(node.args[1])
            if attribute:
                named = {f"{base}.{attribute}" for base in _resolve(node.args[0], naming)}
                named = {dotted for dotted in named if any(rule.matches(dotted) for rule in naming.rules)}
                return named or {f"getattr(..., {attribute!r})"}   # an object we cannot name: judged by the attribute
    return set()


class _Finder(ast.NodeVisitor):
    """Every use of what ``rules`` forbid in the nodes it visits, as ``found``:
    ``{(rule, used, line): Violation}``."""

    def __init__(self, rules, naming=None):
        self.rules = rules
        self.naming = naming or _Naming()
        self.naming.rules = tuple(rules)
        self.found = {}

    def bind(self, name, dotted):
        self.naming.aliases.setdefault(name, set()).add(dotted)
        self.naming.cache.clear()

    def resolve(self, node):
        return _resolve(node, self.naming)

    def report(self, names, line):
        reported = False
        for dotted in sorted(names):
            for rule in self.rules:
                if dotted.startswith("getattr(..., "):
                    leaf = dotted[len("getattr(..., '"):-2]
                    hit = next((name for name in rule.forbidden + rule.unwatched
                                if name.rsplit(".", 1)[-1] == leaf), None)
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
                self.bind(alias.asname, alias.name)
            else:
                top = alias.name.split(".")[0]
                if top not in self.naming.aliases:
                    self.bind(top, top)
            self.report({alias.name}, node.lineno)

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        if self.report({node.module}, node.lineno):
            return
        for alias in node.names:
            if alias.name == "*":
                for rule in self.rules:
                    for name in rule.forbidden + rule.unwatched:
                        parent, _, leaf = name.rpartition(".")
                        if parent == node.module:
                            self.bind(leaf, name)
                continue
            dotted = f"{node.module}.{alias.name}"
            self.bind(alias.asname or alias.name, dotted)
            self.report({dotted}, node.lineno)

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
            self.report(self.resolve(node), node.lineno)


def _bind_imports(finder, tree):
    """Imports anywhere in ``tree`` bind names for all of it (a function body may use a
    name imported below it)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    finder.bind(alias.asname, alias.name)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                if alias.name != "*":
                    finder.bind(alias.asname or alias.name, f"{node.module}.{alias.name}")
    _bind_renames(finder, tree)


def _bind_renames(finder, tree):
    """``j = jax`` and ``d = jax.grad`` name what they rename, for all of ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, (ast.Name, ast.Attribute)):
            for dotted in finder.resolve(node.value):
                finder.bind(node.targets[0].id, dotted)


_UNREADABLE = ast.Module(body=[], type_ignores=[])   # runs, but nested too deeply for ``ast`` to read


def _parse(source):
    """The cell's tree; ``None`` when Python cannot run it; ``_UNREADABLE`` when it runs
    but cannot be read."""
    if not isinstance(source, str):
        return None
    text = _without_magics(source)
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    except (RecursionError, MemoryError):
        try:
            compile(text, "<cell>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        return _UNREADABLE


def violations(source, rules):
    """Every use in ``source`` of what ``rules`` forbid (one cell read alone; grading reads
    the answer's closure with ``closure_violations``).

    Arguments:
        source: one cell's Python source (``%magic`` and ``!shell`` lines are ignored).
        rules: ``Rule`` objects, e.g. ``[NO_LECTLIB, NO_AUTODIFF]``.
    Returns:
        ``[Violation]`` in source order, one per (rule, name, line); ``[]`` when nothing is
        found or the source is not valid Python (running it will say what is wrong).
    The homework's by-hand rules; tested in ``tests/test_autograder_rules.py``.
    """
    rules = list(rules)
    tree = _parse(source) if rules else None
    if tree is None or tree is _UNREADABLE:
        return []
    finder = _Finder(rules)
    _bind_imports(finder, tree)
    finder.visit(tree)
    return sorted(finder.found.values(), key=lambda v: (v.line, v.used, v.rule))


# ---------------------------------------------------------------- the ways around a name

class _Plainly(ast.NodeVisitor):
    """Every way around a name in the nodes it visits, as ``found``: ``[(used, line)]``
    (the longest chain that matches, once)."""

    def __init__(self, naming):
        self.naming = naming
        self.found = []

    def resolve(self, node):
        return _resolve(node, self.naming)

    def report(self, node, rule=WRITE_PLAINLY):
        hits = sorted({rule.matches(dotted) and dotted for dotted in self.resolve(node)} - {None})
        for dotted in hits:
            self.found.append((dotted, node.lineno))
        return bool(hits)

    def visit_Name(self, node):
        names = self.resolve(node)
        if names & _ATTRIBUTE_FUNCTIONS:      # getattr(...) called directly is judged in visit_Call
            self.found.append((sorted(names & _ATTRIBUTE_FUNCTIONS)[0], node.lineno))
        self.report(node)

    def visit_Attribute(self, node):
        if node.attr in _HIDDEN_ATTRIBUTES or node.attr == "__dict__":
            self.found.append((node.attr, node.lineno))
        if not self.report(node):
            self.generic_visit(node)

    def visit_Subscript(self, node):
        target = node.value
        if isinstance(target, ast.Attribute) and target.attr == "__dict__" and _literal(node.slice) is not None:
            self.visit(target.value)          # X.__dict__["name"] names what it reaches
            return
        self.generic_visit(node)

    def visit_Call(self, node):
        names = self.resolve(node.func)
        if isinstance(node.func, ast.Name) and names & _ATTRIBUTE_FUNCTIONS:
            plain = (len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args)
                     and _literal(node.args[1]) is not None)
            if not plain:
                self.found.append((sorted(names & _ATTRIBUTE_FUNCTIONS)[0], node.lineno))
            self.report(node.func)
            for child in node.args + [keyword.value for keyword in node.keywords]:
                self.visit(child)
            return
        self.code_in_a_string(node, names)
        if names & _OPENERS and (not node.args or _literal(node.args[0]) is None):
            # a descriptor number or a path built at run time (the runner's channels, /proc)
            self.found.append((sorted(names & _OPENERS)[0], node.lineno))
        self.generic_visit(node)

    def code_in_a_string(self, node, names):
        """``timeit.timeit("...")`` runs code given as text."""
        if names & {"timeit.timeit", "timeit.repeat", "timeit.Timer"}:
            given = node.args + [keyword.value for keyword in node.keywords if keyword.arg in ("stmt", "setup")]
            if any(not isinstance(argument, (ast.Lambda, ast.Name, ast.Attribute)) for argument in given[:2]):
                self.found.append((sorted(names & {"timeit.timeit", "timeit.repeat", "timeit.Timer"})[0], node.lineno))

    def visit_Constant(self, node):
        if isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            for path in _HIDDEN_PATHS:
                if path in text:
                    self.found.append((path, node.lineno))


def _hooks(node, naming):
    """Whether ``node`` uses a hook, a thread, another process or dynamic code."""
    return any(dotted == name or dotted.startswith(name + ".") for child in ast.walk(node)
               if isinstance(child, (ast.Name, ast.Attribute, ast.Subscript, ast.Call))
               for dotted in _resolve(child, naming) for name in _HOOKS)


# ---------------------------------------------------------------- scopes

class _Scope:
    def __init__(self, kind, parent, bound=(), declared_global=()):
        self.kind, self.parent = kind, parent          # kind: "module", "function", "class"
        self.bound, self.declared_global = set(bound), set(declared_global)


def _own_bindings(body):
    """``(bound, declared global)`` names of one function or class body (params not
    included), not looking into nested functions, classes or comprehensions."""
    bound, declared = set(), set()
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack += node.decorator_list
            if not isinstance(node, ast.ClassDef):
                stack += node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
            else:
                stack += node.bases + [k.value for k in node.keywords]
            continue
        if isinstance(node, ast.Lambda):
            stack += node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            stack.append(node.generators[0].iter)
            stack += [n for n in ast.walk(node) if isinstance(n, ast.NamedExpr)]
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
            if isinstance(node, ast.Nonlocal):
                bound.difference_update(node.names)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        stack += list(ast.iter_child_nodes(node))
    return bound, declared


def _parameters(args):
    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} | \
        {a.arg for a in (args.vararg, args.kwarg) if a is not None}


class _Names(ast.NodeVisitor):
    """What one top-level statement does with module-level names: ``loads`` (anywhere in
    it: function bodies, defaults, decorators, class bodies, comprehensions), ``top_loads``
    (run when the statement runs, not inside a function), ``binds``, and ``local``: ids of
    the ``Name`` nodes that are a function's or a comprehension's own variables."""

    def __init__(self):
        self.scope = _Scope("module", None)
        self.loads, self.top_loads, self.binds, self.local = set(), set(), set(), set()
        self.in_function = 0

    def is_global(self, name):
        scope = self.scope
        if scope.kind == "class":
            if name in scope.bound and name not in scope.declared_global:
                return False
            scope = scope.parent
            while scope.kind == "class":
                scope = scope.parent
        while scope.kind != "module":
            if name in scope.declared_global:
                return True
            if name in scope.bound:
                return False
            scope = scope.parent
            while scope.kind == "class":
                scope = scope.parent
        return True

    def bind(self, name, node=None):
        if self.is_global(name):
            self.binds.add(name)
        elif node is not None:
            self.local.add(id(node))

    def visit_Name(self, node):
        if not self.is_global(node.id):
            self.local.add(id(node))
        elif isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
            if not self.in_function:
                self.top_loads.add(node.id)
        else:
            self.binds.add(node.id)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name != "*":
                self.bind(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node):
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def enter(self, kind, body, parameters=(), function=True):
        bound, declared = _own_bindings(body)
        self.scope = _Scope(kind, self.scope, bound | set(parameters), declared)
        self.in_function += function
        for statement in body:
            self.visit(statement)
        self.in_function -= function
        self.scope = self.scope.parent

    def visit_FunctionDef(self, node):
        for expression in node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(expression)
        self.bind(node.name)
        self.enter("function", node.body, _parameters(node.args))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        for expression in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(expression)
        self.enter("function", [ast.Expr(node.body)], _parameters(node.args))

    def visit_ClassDef(self, node):
        for expression in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(expression)
        self.bind(node.name)
        self.enter("class", node.body, function=False)

    def visit_comprehension_node(self, node):
        generators = node.generators
        self.visit(generators[0].iter)
        targets = {n.id for g in generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        self.scope = _Scope("function", self.scope, targets)
        for index, generator in enumerate(generators):
            self.visit(generator.target)
            if index:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            if getattr(node, part, None) is not None:
                self.visit(getattr(node, part))
        self.scope = self.scope.parent

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_node


# ---------------------------------------------------------------- closures

def _root(node):
    """The ``Name`` an attribute, subscript or call chain starts from (``cache`` in
    ``cache["g"].append``), or ``None``."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node if isinstance(node, ast.Name) else None


@dataclasses.dataclass
class _Unit:
    """One top-level statement (an import with several names: one per name)."""
    cell: int
    node: ast.AST
    kind: str                 # "import", "star", "definition" (def or class) or "other"
    names: _Names
    stored: set = dataclasses.field(default_factory=set)   # names whose attributes or items it sets or deletes
    passed: set = dataclasses.field(default_factory=set)   # names it calls a method of or passes to a call
    passed_to: dict = dataclasses.field(default_factory=dict)   # name -> {functions it is passed to by name}
    shares: set = dataclasses.field(default_factory=set)   # names whose object it may bind to another name
    ambient: bool = False
    unreadable: bool = False  # nested too deeply to read: part of every closure, and reported


def _units(cells):
    units = []
    for cell, source in cells:
        tree = _parse(source)
        if tree is None:
            continue
        if tree is _UNREADABLE:
            units.append(_Unit(cell, ast.Pass(lineno=1, col_offset=0), "other", _Names(), ambient=True,
                               unreadable=True))
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)) and len(statement.names) > 1:
                parts = [ast.copy_location(type(statement)(**{**{f: getattr(statement, f) for f in statement._fields},
                                                              "names": [alias]}), statement)
                         for alias in statement.names]
            else:
                parts = [statement]
            for part in parts:
                if isinstance(part, (ast.Import, ast.ImportFrom)):
                    kind = "star" if any(alias.name == "*" for alias in part.names) else "import"
                elif isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    kind = "definition"
                else:
                    kind = "other"
                names = _Names()
                try:
                    names.visit(part)
                except RecursionError:
                    units.append(_Unit(cell, part, "other", _Names(), ambient=True, unreadable=True))
                    continue
                units.append(_Unit(cell, part, kind, names))
    return units


def _aliases(units):
    """``{name: {dotted names}}`` the import statements among ``units`` bind."""
    aliases = {}
    for unit in units:
        if unit.kind in ("import", "star"):
            finder = _Finder([NO_AUTODIFF, NO_LECTLIB])
            finder.visit(unit.node)
            for name, dotted in finder.naming.aliases.items():
                aliases.setdefault(name, set()).update(dotted)
    return aliases


def _naming(unit, outer, own, rules=()):
    """The ``_Naming`` of one statement: its own imports, then ``outer``'s (``own``: a frozenset)."""
    finder = _Finder(list(rules), _Naming({}, outer, frozenset(unit.names.local), own))
    _bind_imports(finder, unit.node)
    return finder


def _shared(value):
    """The names whose object ``value`` may be (or be part of): ``cache``, ``cache["g"]``,
    ``cache.get("g")``, ``(cache, 1)``; not ``f(cache)`` or ``2 * cache``."""
    if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
        return [name for element in value.elts for name in _shared(element)]
    if isinstance(value, ast.Starred):
        return _shared(value.value)
    if isinstance(value, ast.Call) and not isinstance(value.func, ast.Attribute):
        return []
    root = _root(value)
    return [root] if root is not None else []


def _effects(unit, outer, imported, own):
    """Fills ``unit.stored``, ``unit.passed``, ``unit.passed_to``, ``unit.shares`` and ``unit.ambient``."""
    local = unit.names.local
    naming = _naming(unit, outer, own).naming

    def global_root(node):
        root = _root(node)
        return root.id if root is not None and id(root) not in local else None

    library = imported | (unit.names.loads - own)      # names no student statement binds
    for node in ast.walk(unit.node):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            name = global_root(node.value)
            if name:
                unit.stored.add(name)
                if name in imported or (isinstance(node, ast.Attribute) and name in library):
                    unit.ambient = True       # changes a module, the builtins or a library class
        elif isinstance(node, ast.Call):
            callee = _resolve(node.func, naming)
            if isinstance(node.func, ast.Attribute) and node.func.attr not in _PURE_METHODS:
                name = global_root(node.func.value)
                if name:
                    unit.passed.add(name)
            if callee & {"setattr", "delattr"} and node.args and global_root(node.args[0]) in library:
                unit.ambient = True
            if not callee & _PURE_CALLS:
                for argument in node.args + [keyword.value for keyword in node.keywords]:
                    if isinstance(argument, (ast.Name, ast.Starred)):
                        name = global_root(argument)
                        if name and isinstance(node.func, ast.Name):    # passing it to the answer changes nothing
                            unit.passed_to.setdefault(name, set()).add(node.func.id)
                        elif name:
                            unit.passed.add(name)
        elif isinstance(node, ast.ClassDef) and any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                                                    and item.name == "__del__" for item in node.body):
            unit.ambient = True
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            values = [node.value]
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            values = [node.iter]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            values = [item.context_expr for item in node.items]
        else:
            values = []
        unit.shares.update(root.id for value in values for root in _shared(value) if id(root) not in local)
    if unit.kind not in ("import", "star"):
        plain = _Plainly(naming)
        plain.visit(unit.node)
        if _hooks(unit.node, naming) or any(used not in _READ_ONLY for used, _ in plain.found):
            unit.ambient = True               # hooks, dynamic code, or reaching names, frames or code unnamed


def closure(cells, function):
    """The statements ``function``'s closure holds: ``[(cell number, ast statement)]`` in
    the cells' order (see ``closure_violations``). The homework's by-hand rules;
    tests/test_closure_rules.py."""
    return [(unit.cell, unit.node) for unit in _closure(_analysis(_cells(cells)), function)]


def _cells(cells):
    """``cells`` as a tuple (a source given as nbformat's list of lines is joined)."""
    return tuple((cell, source if isinstance(source, str) else "".join(map(str, source)) if isinstance(source, list)
                  else "") for cell, source in cells)


def _own(units):
    return {name for unit in units if unit.kind != "import" for name in unit.names.binds}


@dataclasses.dataclass(frozen=True)
class _Analysis:
    """What the closures of every function of one notebook are built from."""
    units: list
    own: frozenset        # names the student's statements bind
    data: frozenset       # names bound by statements other than def, class and import
    bound: frozenset      # names bound by statements other than star imports
    outer: dict           # the imports' aliases


@functools.lru_cache(maxsize=4)
def _analysis(cells):
    """The ``_Analysis`` of ``cells`` (a tuple); kept for the next graded function of the
    same notebook."""
    units = _units(cells)
    imported = {name for unit in units if unit.kind == "import" for name in unit.names.binds}
    own = frozenset(_own(units))
    outer = _aliases(units)
    for unit in units:
        if not unit.unreadable:
            try:
                _effects(unit, outer, imported, own)
            except RecursionError:
                unit.ambient = unit.unreadable = True
    return _Analysis(units, own, frozenset(name for unit in units if unit.kind == "other" for name in unit.names.binds),
                     frozenset(name for unit in units if unit.kind != "star" for name in unit.names.binds), outer)


def _closure(analysis, function, ambient=True):
    units, data, bound = analysis.units, analysis.data, analysis.bound
    by = {"binds": {}, "stored": {}, "passed": {}, "shares": {}}
    for unit in units:
        passed = unit.passed | {name for name, callees in unit.passed_to.items() if callees - {function}}
        for what, found in (("binds", unit.names.binds), ("stored", unit.stored), ("passed", passed),
                            ("shares", unit.shares if unit.kind == "other" else ())):
            for name in found:
                by[what].setdefault(name, []).append(unit)
    inside, names, tracked, watched = set(), set(), set(), set()
    pending = [("name", function)]

    def include(unit):
        if id(unit) not in inside:
            inside.add(id(unit))
            pending.extend(("name", name) for name in unit.names.loads)

    def watch(name):
        """``name``'s data now counts: so do calls that may change it and names filled with it."""
        if name not in watched:
            watched.add(name)
            for unit in by["passed"].get(name, ()):
                include(unit)
            for unit in by["shares"].get(name, ()):
                pending.extend(("tracked", other) for other in unit.names.binds)

    for unit in units:
        if unit.ambient and ambient:
            include(unit)
    while pending:
        kind, name = pending.pop()
        if kind == "name" and name not in names:
            names.add(name)
            for unit in by["binds"].get(name, []) + by["stored"].get(name, []):
                include(unit)
            if name not in bound:         # perhaps from a star import
                for unit in units:
                    if unit.kind == "star":
                        include(unit)
            if name in data:
                watch(name)
        elif kind == "tracked" and name not in tracked:
            tracked.add(name)
            for unit in by["stored"].get(name, []):
                include(unit)
            watch(name)
    return [unit for unit in units if id(unit) in inside]


_TOO_DEEP = "code nested too deeply to read"


def closure_violations(cells, function, rules):
    """Every use of what ``rules`` forbid, and every way around a name, in what ``function``
    uses: its closure across the student's cells.

    Arguments:
        cells: ``[(cell number, source)]`` of the student's code cells in run order (answer
            cells and cells the student added; not the instructor's locked cells).
            ``%magic``/``!shell`` lines are ignored; a cell that does not parse is skipped.
        function: the graded function's name (``"elman_backward"``).
        rules: ``Rule`` objects, e.g. ``[NO_LECTLIB, NO_AUTODIFF]``.
    Returns:
        ``[ClosureViolation]`` sorted by cell, line, name, rule; ``[]`` when ``rules`` is
        empty. Rules report under their own name; the ways around a name (``WRITE_PLAINLY``)
        under ``"write-plainly"`` whenever there is any rule.

    The closure: every top-level statement that binds ``function``; then, transitively,
    for every module-level name those statements load (in function bodies, defaults,
    decorators, class bodies, comprehensions), every statement that binds it or sets or
    deletes its attributes or items, and, for names bound to data, every statement that
    calls its methods or passes it to a call (other than a call of ``function`` itself or
    of a function that changes nothing, such as ``print``), and the names filled with it.
    Always part of it: statements that change a module, the builtins or a library class,
    install hooks (threads, signals, tracing, ``atexit``, ``__del__``...), start processes,
    run dynamic code, or reach names, frames or code without naming them, when a rule is
    by hand (any but ``NO_LECTLIB``: lectlib is not in the sandbox at all, so a function
    whose only rule is no-lectlib is read over what it uses by name, and a trick in another
    cell costs the functions it can cheat for, not every function of the notebook). A
    student's own check cell that compares the answer with ``jax.grad`` is not part of it.
    The homework's by-hand rules; tests/test_autograder_rules.py, tests/test_closure_rules.py.
    """
    rules = [rule for rule in rules if rule.name != WRITE_PLAINLY.name]
    if not rules:
        return []
    analysis = _analysis(_cells(cells))
    inside = _closure(analysis, function, ambient=any(rule.name != NO_LECTLIB.name for rule in rules))
    own, outer = analysis.own, _aliases(inside)
    for unit in inside:
        if unit.kind == "other" and not unit.unreadable:
            renames = _Finder([], _Naming({}, outer, frozenset(unit.names.local), own))
            try:
                _bind_renames(renames, unit.node)
            except RecursionError:
                unit.unreadable = True     # the same for every graded function: kept in the shared analysis
                continue
            for name, dotted in renames.naming.aliases.items():
                if name in unit.names.binds:
                    outer.setdefault(name, set()).update(dotted)
    found = {}
    for unit in inside:
        try:
            if unit.unreadable:
                raise RecursionError
            finder, plain = _naming(unit, outer, own, rules), _Plainly(_naming(unit, outer, own).naming)
            finder.visit(unit.node)
            plain.visit(unit.node)
        except RecursionError:
            line = getattr(unit.node, "lineno", 1)
            found.setdefault((unit.cell, line, _TOO_DEEP, WRITE_PLAINLY.name), ClosureViolation(
                WRITE_PLAINLY.name, _TOO_DEEP, unit.cell, line, WRITE_PLAINLY.reason))
            continue
        for violation in finder.found.values():
            found.setdefault((unit.cell, violation.line, violation.used, violation.rule), ClosureViolation(
                violation.rule, violation.used, unit.cell, violation.line, violation.reason))
        for used, line in plain.found:
            found.setdefault((unit.cell, line, used, WRITE_PLAINLY.name), ClosureViolation(
                WRITE_PLAINLY.name, used, unit.cell, line, WRITE_PLAINLY.reason))
    return [found[key] for key in sorted(found)]
