"""Runs one submission's plan inside the sandbox and records what its functions return.

Cells run with ``exec`` in one namespace, in order, as a kernel would run them;
IPython is not involved (``%magic`` and ``!shell`` lines are skipped). This file runs on
its own (``python executor.py``, working directory = the scratch folder) and imports nothing from the course: the sandbox shows it this file, the scratch
folder and the Python installation, nothing else. It trusts nothing it produces
either: the grading process only reads the arrays it records and judges them itself.

Input, in the scratch folder:
  plan.json   {"steps": [{"cell": source} | {"check": grade_id, "calls": [call, ...]}, ...],
               "cell_seconds": float}
              call = {"id": str, "function": name, "args": [argument, ...]}
              argument = {"array": name} | {"code": source, "name": None | defined name} | {"int": n} | {"float": x}
                         | {"tuple": [argument, ...]} | {"dict": {key: argument}}
  inputs.npz  the arrays named by the arguments

Output, in the scratch folder (appended as it goes, so a crash keeps what came before):
  results.jsonl  one JSON object per line:
                 {"cell": i, "error": null | "Type: message", "seconds": s}
                 {"call": id, "status": "ok", "value": value} | {"call": id, "status": "error", "message": m}
                 value = {"array": "out/o<n>.npy"} | {"tuple": [...]} | {"dict": {...}} | {"none": true}
  progress.txt   the step running now (to name the cell that killed the process)
  out/o<n>.npy   the returned arrays (numpy format, no pickles)
"""
import json
import os
import signal
import sys
import time

import numpy as np

KEEP_PRINTED = 4000


class StepTimeout(BaseException):
    """Raised by the timer; a BaseException so that ``except Exception`` does not swallow it."""


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


class Recorder:
    def __init__(self, folder):
        self.folder = folder
        os.makedirs(os.path.join(folder, "out"), exist_ok=True)
        self.results = open(os.path.join(folder, "results.jsonl"), "a", encoding="utf-8")
        self.count = 0
        # Bound before any student code runs, so that patching numpy later cannot reach them.
        self.save = np.save
        self.asarray = np.asarray
        self.dumps = json.dumps

    def line(self, record):
        self.results.write(self.dumps(record) + "\n")
        self.results.flush()

    def value(self, value, depth=0):
        if depth > 4:
            raise TypeError("the result is nested too deeply")
        if value is None:
            return {"none": True}
        if isinstance(value, (tuple, list)):
            return {"tuple": [self.value(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"dict": {str(k): self.value(v, depth + 1) for k, v in value.items()}}
        array = self.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"returned {type(value).__name__}, which is not an array of numbers")
        self.count += 1
        name = f"out/o{self.count}.npy"
        self.save(os.path.join(self.folder, name), array, allow_pickle=False)
        return {"array": name}


def _error_text(exc):
    if isinstance(exc, NotImplementedError):
        return "not written yet (it raises NotImplementedError)"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) < 500 else text[:500] + "…"


def build_argument(spec, inputs, helpers):
    if "array" in spec:
        return inputs[spec["array"]]
    if "code" in spec:
        if spec.get("name") is None:
            return eval(spec["code"], helpers)
        scope = dict(helpers)
        exec(spec["code"], scope)
        return scope[spec["name"]]
    if "int" in spec:
        return int(spec["int"])
    if "float" in spec:
        return float(spec["float"])
    if "tuple" in spec:
        return tuple(build_argument(s, inputs, helpers) for s in spec["tuple"])
    if "dict" in spec:
        return {k: build_argument(s, inputs, helpers) for k, s in spec["dict"].items()}
    raise ValueError(f"unknown argument {spec!r}")


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


def main(folder):
    with open(os.path.join(folder, "plan.json"), encoding="utf-8") as handle:
        plan = json.load(handle)
    cell_seconds = float(plan.get("cell_seconds", 60))
    with np.load(os.path.join(folder, "inputs.npz"), allow_pickle=False) as stored:
        inputs = {name: stored[name] for name in stored.files}
    recorder = Recorder(folder)
    progress = os.path.join(folder, "progress.txt")

    # The student's prints go nowhere (counted); the process's own descriptors go to /dev/null.
    sink = CountingSink()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = sink
    signal.signal(signal.SIGALRM, _on_alarm)

    import matplotlib
    matplotlib.use("Agg")

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    helpers = {}
    cell_index = 0
    for step in plan["steps"]:
        if "cell" in step:
            cell_index += 1
            with open(progress, "w") as handle:
                handle.write(f"cell {cell_index}")
            start = time.perf_counter()
            error = None
            try:
                code = compile(without_magics(step["cell"]), f"<cell {cell_index}>", "exec")
                timed(cell_seconds, lambda: exec(code, namespace))
            except StepTimeout:
                error = f"the cell ran longer than {cell_seconds:g} s and was stopped"
            except BaseException as exc:  # whatever the cell raises, even SystemExit, is its own error
                error = _error_text(exc)
            recorder.line({"cell": cell_index, "error": error, "seconds": time.perf_counter() - start})
            continue
        with open(progress, "w") as handle:
            handle.write(f"check {step['check']}")
        if not helpers:
            import jax
            import jax.numpy as jnp
            helpers.update({"np": np, "jax": jax, "jnp": jnp})
        for call in step["calls"]:
            record = {"call": call["id"]}
            function = namespace.get(call["function"])
            if not callable(function):
                record.update(status="error", message=f"the function `{call['function']}` is not defined "
                                                      f"(is its cell run without errors?)")
                recorder.line(record)
                continue
            try:
                args = [build_argument(spec, inputs, helpers) for spec in call["args"]]
                value = timed(cell_seconds, lambda: function(*args))
                record.update(status="ok", value=recorder.value(value))
            except StepTimeout:
                record.update(status="error", message=f"the call ran longer than {cell_seconds:g} s and was stopped")
            except BaseException as exc:  # the student's code may raise anything, even SystemExit
                record.update(status="error", message=_error_text(exc))
            recorder.line(record)
    recorder.line({"printed": sink.count})
    recorder.results.close()
    os._exit(0)


if __name__ == "__main__":
    main(os.getcwd() if len(sys.argv) < 2 else sys.argv[1])
