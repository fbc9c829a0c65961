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
import json
import os
import select
import signal
import sys
import time
import types

import numpy as np

import wire

# The runner's own modules are not the student's to import by name: ``import wire`` and
# ``import __main__`` in a cell find nothing of the runner (``main`` gives the cells a
# ``__main__`` module of their own).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
del sys.modules["wire"]

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
    """Writes sealed ``wire`` frames to the grader's pipe. Built before student code runs;
    the descriptor and the seal's key live in the closure of ``send``, not in attributes."""

    def __init__(self, fd, key):
        write, frame = os.write, wire.frame

        def send(header, blobs=()):
            data = memoryview(frame(header, blobs, seal=key))
            while data:
                data = data[write(fd, data):]

        self.send = send


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


def _applied_by_student():
    """Whether the caller of the wrapped callable is a student's cell (not a library
    module that defines its functions with custom derivatives when imported)."""
    frame = sys._getframe(2)
    return frame is not None and frame.f_code.co_filename.startswith("<cell ")


def _guarded_init(watch, rule, name, original, student_only):
    def __init__(self, *args, **kwargs):
        if rule in watch.rules and (not student_only or _applied_by_student()):
            watch.violation(rule, name)
            raise ForbiddenUse(f"{name} may not be used here: {watch.reasons.get(rule)}")
        return original(self, *args, **kwargs)
    return __init__


def _guarded_call(watch, rule, name, original):
    def replacement(*args, **kwargs):
        if rule in watch.rules:
            watch.violation(rule, name)
            raise ForbiddenUse(f"{name} may not be used here: {watch.reasons.get(rule)}")
        return original(*args, **kwargs)
    replacement.__name__ = getattr(original, "__name__", name.rsplit(".", 1)[-1])
    replacement.__doc__ = getattr(original, "__doc__", None)
    return replacement


def watch_calls(watch, rule, names):
    """Wraps every callable named in ``names``: a call while a function under ``rule`` runs
    reports a violation and raises ``ForbiddenUse``. Classes get their ``__init__`` wrapped
    (every reference to the class sees it); the ``custom_*`` derivative classes only when a
    student's cell applies them (importing ``jax.nn`` or ``jax.scipy`` creates some, and
    that is no autodiff). Functions are replaced in every module that exports them under
    the watched names. The originals stay in the wrappers' closures, not in attributes or
    defaults a cell could read by name."""
    wrapped = {}
    for dotted in names:
        found = _resolve(dotted)
        if found is None:
            continue
        owner, attribute, target = found
        if isinstance(target, type):
            if target not in wrapped:
                student_only = attribute.startswith("custom_")
                target.__init__ = wrapped[target] = _guarded_init(watch, rule, dotted, target.__init__, student_only)
            continue
        if not callable(target) or isinstance(target, type(sys)):
            continue
        if id(target) not in wrapped:
            wrapped[id(target)] = _guarded_call(watch, rule, dotted, target)
        setattr(owner, attribute, wrapped[id(target)])


def _error_record(exc):
    """What a call or cell raised, as the wire's typed fields."""
    if isinstance(exc, ForbiddenUse):
        status = "forbidden"
    elif isinstance(exc, NotImplementedError):
        status = "not-written"
    else:
        status = "raised"
    try:
        message = str(exc)[:500]
    except BaseException:
        message = ""
    return {"status": status, "exception": type(exc).__name__, "message": message}


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


def _read_exactly(fd, count, deadline):
    """``count`` bytes from ``fd``, or ``None`` at its end or past ``deadline``."""
    chunks, size = [], 0
    while size < count:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
        chunk = os.read(fd, min(count - size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_frame(fd, seconds=None, limit=256 * 1024 * 1024):
    """One ``wire`` frame from ``fd`` as ``(header, blobs)``, or ``None`` (end, timeout,
    or a malformed frame)."""
    deadline = time.monotonic() + seconds if seconds is not None else None
    head = _read_exactly(fd, 4, deadline)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > wire.MAX_HEADER_BYTES:
        return None
    text = _read_exactly(fd, size, deadline)
    if text is None:
        return None
    try:
        lengths = json.loads(text).get("blobs", [])
        total = sum(lengths)
    except (ValueError, AttributeError, TypeError):
        return None
    if total > limit:
        return None
    rest = _read_exactly(fd, total, deadline) if total else b""
    if rest is None:
        return None
    frames, problem = wire.read_frames(head + text + rest)
    return frames[0] if frames and not problem else None


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


def call_check(step, namespace, helpers, channel, watch, cell_seconds, watched):
    """Asks for each call's arguments in turn and calls the student's function on them.
    Returns ``False`` when the grader stopped answering (the run ends)."""
    function_name = step["function"]
    # Rules that watch functions at run time (no autodiff), not only imports (no lectlib).
    by_hand = any("." in name for rule in step.get("rules", ()) for name in watched.get(rule, ()))
    for index in range(step["calls"]):
        call = f"{step['check']}/{index}"
        channel.send({"kind": "next", "id": call})
        given = read_frame(0, seconds=cell_seconds)
        if given is None or given[0].get("kind") != "args" or given[0].get("id") != call:
            return False
        header, blobs = given
        record = {"kind": "call", "id": call}
        blobs_out = []
        function = namespace.get(function_name)
        if not callable(function):
            record.update(status="not-defined", exception=None, message="")
            channel.send(record)
            continue
        try:
            args = [build_argument(wire.decode_value(spec, blobs, allow_code=True), helpers)
                    for spec in header["args"]]
            if by_hand:
                # A jitted program compiled before the watch saw it must be traced again.
                helpers["jax"].clear_caches()
            watch.call, watch.rules = call, frozenset(step.get("rules", ()))
            try:
                value = timed(cell_seconds, lambda: function(*args))
            finally:
                watch.call, watch.rules = None, frozenset()
            record.update(status="ok", value=wire.encode_value(value, blobs_out))
        except StepTimeout:
            record.update(status="timed-out", exception=None, message="")
            blobs_out = []
        except BaseException as exc:  # the student's code may raise anything, even SystemExit
            record.update(_error_record(exc))
            blobs_out = []
        channel.send(record, blobs_out)
    return True


def main():
    given = read_frame(0)
    if given is None or given[0].get("kind") != "plan":
        raise SystemExit("no plan on standard input")
    header, _ = given
    channel = Channel(int(os.environ.pop("AUTOGRADER_RESULTS_FD")), bytes.fromhex(header.pop("seal", "")))
    del given
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

    student_main = types.ModuleType("__main__")
    student_main.__builtins__ = __builtins__
    sys.modules["__main__"] = student_main
    namespace = student_main.__dict__
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
                error = {"exception": "TimeoutError", "message": f"the cell ran longer than {cell_seconds:g} s"}
            except BaseException as exc:  # whatever the cell raises, even SystemExit, is its own error
                error = _error_record(exc)
                del error["status"]
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
        if not call_check(step, namespace, helpers, channel, watch, cell_seconds, watched):
            break
        if scratch_full(scratch_fd, scratch_bytes):
            channel.send({"kind": "disk", "where": f"check {step['check']}"})
            break
    channel.send({"kind": "done", "printed": sink.count})
    os._exit(0)


if __name__ == "__main__":
    main()
