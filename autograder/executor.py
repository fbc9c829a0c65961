"""The runner: executes one submission's plan inside the sandbox and sends back what the
student's functions return.

Cells run with ``exec`` in one namespace, in order, as a kernel would run them;
IPython is not involved (``%magic`` and ``!shell`` lines are skipped). This file runs on
its own (``python executor.py``) beside ``wire.py``, the only other course file the
sandbox shows it. The plan arrives on standard input and the results leave through the
pipe named by ``AUTOGRADER_RESULTS_FD``, both in ``wire``'s format; nothing is read from
or written to the scratch folder (the working directory, the student's to use).

While a graded function runs, the rules its check names are watched: importing
``lectlib`` is refused (it is not in the sandbox anyway), and the autodiff entry points of
JAX (``jax.grad`` ... and where they are defined in ``jax._src``, down to the traces every
autodiff creates) report a violation and raise when called during a function that is to
be written by hand. The grader combines these reports with its reading of the source.

It trusts nothing the student's code produces, and the grader trusts nothing this file
sends: it only decodes numbers and shapes, and judges them itself.
"""
import importlib
import os
import signal
import sys
import time

import numpy as np

import wire

KEEP_PRINTED = 4000


class StepTimeout(BaseException):
    """Raised by the timer; a BaseException so that ``except Exception`` does not swallow it."""


class ForbiddenUse(RuntimeError):
    """Raised where a rule forbids what the student's function called."""


class CountingSink:
    """Stands in for stdout/stderr: counts what the student's code prints, keeps the start."""

    def __init__(self):
        self.count = 0
        self.kept = []

    def write(self, text):
        text = str(text)
        if self.count < KEEP_PRINTED:
            self.kept.append(text[:KEEP_PRINTED - self.count])
        self.count += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


def _on_alarm(signum, frame):
    raise StepTimeout()


class Channel:
    """Writes ``wire`` frames to the grader's pipe. Bound before student code runs."""

    def __init__(self, fd):
        self.fd = fd
        self.write = os.write
        self.frame = wire.frame

    def send(self, header, blobs=()):
        data = memoryview(self.frame(header, blobs))
        while data:
            written = self.write(self.fd, data)
            data = data[written:]


class Watch:
    """What is running now, and which rules apply to it."""

    def __init__(self, channel, reasons):
        self.channel = channel
        self.reasons = reasons
        self.rules = frozenset()       # rules of the graded function being called now
        self.cell = None               # the cell running now (index), if a cell runs
        self.call = None               # the call running now (id), if a call runs
        self.reported = set()

    def violation(self, rule, used):
        where_cell, line = _student_line()
        key = (rule, used, self.call, where_cell, line)
        if key not in self.reported:
            self.reported.add(key)
            self.channel.send({"kind": "violation", "rule": rule, "used": used, "line": line,
                               "cell": where_cell if where_cell is not None else self.cell, "call": self.call})


def _student_line():
    """``(cell index, line)`` of the innermost frame of a student's cell, or ``(None, None)``."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<cell ") and name.endswith(">"):
            try:
                return int(name[6:-1]), frame.f_lineno
            except ValueError:
                return None, frame.f_lineno
        frame = frame.f_back
    return None, None


class LectlibGuard:
    """A meta path finder that refuses ``lectlib`` and reports the attempt."""

    def __init__(self, watch, rule, prefixes):
        self.watch, self.rule, self.prefixes = watch, rule, tuple(prefixes)

    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == p or fullname.startswith(p + ".") for p in self.prefixes):
            self.watch.violation(self.rule, fullname)
            raise ModuleNotFoundError(f"{fullname} is not available when grading: {self.watch.reasons.get(self.rule)}",
                                      name=fullname)
        return None


def _resolve(dotted):
    """``(owner, attribute name, object)`` for a dotted name such as ``jax._src.api.grad``,
    importing the longest module prefix; ``None`` when it does not exist."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part, None)
            if owner is None:
                return None
        if hasattr(owner, parts[-1]):
            return owner, parts[-1], getattr(owner, parts[-1])
        return None
    return None


def watch_calls(watch, rule, names):
    """Wraps every callable named in ``names``: a call while a function under ``rule`` runs
    reports a violation and raises ``ForbiddenUse``. Classes get their ``__init__`` wrapped
    (every reference to the class sees it); functions are replaced in every module that
    exports them under the watched names."""
    wrapped = {}
    for dotted in names:
        found = _resolve(dotted)
        if found is None:
            continue
        owner, attribute, target = found
        if isinstance(target, type):
            if target in wrapped:
                continue
            original = target.__init__

            def __init__(self, *args, __original=original, __name=dotted, **kwargs):
                if rule in watch.rules:
                    watch.violation(rule, __name)
                    raise ForbiddenUse(f"{__name} may not be used here: {watch.reasons.get(rule)}")
                return __original(self, *args, **kwargs)

            target.__init__ = __init__
            wrapped[target] = __init__
            continue
        if not callable(target) or isinstance(target, type(sys)):
            continue
        if id(target) not in wrapped:
            def replacement(*args, __original=target, __name=dotted, **kwargs):
                if rule in watch.rules:
                    watch.violation(rule, __name)
                    raise ForbiddenUse(f"{__name} may not be used here: {watch.reasons.get(rule)}")
                return __original(*args, **kwargs)

            replacement.__name__ = getattr(target, "__name__", attribute)
            replacement.__doc__ = getattr(target, "__doc__", None)
            wrapped[id(target)] = replacement
        setattr(owner, attribute, wrapped[id(target)])


def _error_text(exc):
    if isinstance(exc, NotImplementedError):
        return "not written yet (it raises NotImplementedError)"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) < 500 else text[:500] + "…"


def build_argument(value, helpers):
    if isinstance(value, wire.CodeValue):
        if value.name is None:
            return eval(value.source, helpers)
        scope = dict(helpers)
        exec(value.source, scope)
        return scope[value.name]
    if isinstance(value, tuple):
        return tuple(build_argument(v, helpers) for v in value)
    if isinstance(value, dict):
        return {k: build_argument(v, helpers) for k, v in value.items()}
    return value


def without_magics(source):
    """Jupyter's ``%magic`` and ``!shell`` lines mean nothing here; they become ``pass``."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[:len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def timed(seconds, fn):
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def read_plan(fd, limit=256 * 1024 * 1024):
    chunks, size = [], 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise SystemExit("the plan is too large")
    frames, problem = wire.read_frames(b"".join(chunks))
    if problem or len(frames) != 1 or frames[0][0].get("kind") != "plan":
        raise SystemExit(f"no plan on standard input ({problem or 'wrong message'})")
    return frames[0]


def scratch_full(scratch_fd, scratch_bytes):
    """Whether the scratch folder's file system (a tmpfs of ``scratch_bytes``) is full;
    asked through a descriptor opened at start, wherever the student's code moved to."""
    if not scratch_bytes or scratch_fd is None:
        return False
    try:
        stats = os.fstatvfs(scratch_fd)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < max(64 * 1024, scratch_bytes // 100)


def main():
    header, blobs = read_plan(0)
    os.close(0)
    channel = Channel(int(os.environ["AUTOGRADER_RESULTS_FD"]))
    cell_seconds = float(header.get("cell_seconds", 60))
    scratch_bytes = int(header.get("scratch_bytes") or 0)
    steps = header["steps"]
    watch = Watch(channel, header.get("reasons", {}))
    watched = header.get("watch", {})
    scratch_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY) if scratch_bytes else None

    # The student's prints go nowhere (counted); the process's own descriptors go to /dev/null.
    sink = CountingSink()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = sink
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a file too large fails with EFBIG, not a dead runner

    for rule, names in watched.items():
        modules = [n for n in names if "." not in n]
        if modules:
            sys.meta_path.insert(0, LectlibGuard(watch, rule, modules))
        functions = [n for n in names if "." in n]
        if functions:
            watch_calls(watch, rule, functions)

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    helpers = {}
    cell_index = 0
    for step in steps:
        if "cell" in step:
            cell_index += 1
            channel.send({"kind": "step", "step": f"cell {cell_index}"})
            start = time.perf_counter()
            error = None
            watch.cell, watch.call, watch.rules = cell_index, None, frozenset()
            try:
                code = compile(without_magics(step["cell"]), f"<cell {cell_index}>", "exec")
                timed(cell_seconds, lambda: exec(code, namespace))
            except StepTimeout:
                error = f"the cell ran longer than {cell_seconds:g} s and was stopped"
            except BaseException as exc:  # whatever the cell raises, even SystemExit, is its own error
                error = _error_text(exc)
            channel.send({"kind": "cell", "cell": cell_index, "error": error,
                          "seconds": time.perf_counter() - start})
            watch.cell = None
            if scratch_full(scratch_fd, scratch_bytes):
                channel.send({"kind": "disk", "where": f"cell {cell_index}"})
                break
            continue
        channel.send({"kind": "step", "step": f"check {step['check']}"})
        if not helpers:
            import jax
            import jax.numpy as jnp
            helpers.update({"np": np, "jax": jax, "jnp": jnp})
        for call in step["calls"]:
            record = {"kind": "call", "id": call["id"]}
            blobs_out = []
            function = namespace.get(call["function"])
            if not callable(function):
                record.update(status="error", message=f"the function `{call['function']}` is not defined "
                                                      f"(is its cell run without errors?)")
                channel.send(record)
                continue
            try:
                args = [build_argument(wire.decode_value(spec, blobs, allow_code=True), helpers)
                        for spec in call["args"]]
                watch.call, watch.rules = call["id"], frozenset(step.get("rules", ()))
                try:
                    value = timed(cell_seconds, lambda: function(*args))
                finally:
                    watch.call, watch.rules = None, frozenset()
                record.update(status="ok", value=wire.encode_value(value, blobs_out))
            except StepTimeout:
                record.update(status="error", message=f"the call ran longer than {cell_seconds:g} s and was stopped")
                blobs_out = []
            except BaseException as exc:  # the student's code may raise anything, even SystemExit
                record.update(status="error", message=_error_text(exc))
                blobs_out = []
            channel.send(record, blobs_out)
        if scratch_full(scratch_fd, scratch_bytes):
            channel.send({"kind": "disk", "where": f"check {step['check']}"})
            break
    channel.send({"kind": "done", "printed": sink.count})
    os._exit(0)


if __name__ == "__main__":
    main()
