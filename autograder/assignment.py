"""One assignment as grading sees it, prepared once per run: its manifest
(``autograder/checks/<assignment>.py``), its release notebook, the references of every
case, the digest of everything a grade depends on, and a JAX compilation cache.

Most of a submission's run time is XLA compiling the same small operations that every
submission runs (eager JAX compiles each operation for each new shape). The reference
answers run once per version of the assignment with JAX's persistent compilation cache
switched on; the sandbox then mounts that cache read-only, so a submission loads what the
reference compiled and compiles only what it does differently. A compiled program is the
same program either way, so the results are the ones grading without the cache gives.
"""
import dataclasses
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import numpy as np

from autograder import checks as checks_module
from autograder import sandbox

HERE = Path(__file__).resolve().parent


def lectlib_sources():
    """Every source file of ``lectlib`` (the references come from it)."""
    import lectlib

    return sorted(Path(lectlib.__file__).resolve().parent.rglob("*.py"))


def reference_sources():
    """The files the references are computed from: the checks (every manifest and its
    helpers) and lectlib."""
    return sorted((HERE / "checks").glob("*.py")) + lectlib_sources()


def grading_sources():
    """The files a grade depends on besides the notebook: the runner, the wire format,
    every stage of the grader, the sandbox, and what the references come from."""
    return sorted(HERE.glob("*.py")) + sorted((HERE / "sandbox").glob("*.py")) + reference_sources()


def digest_of(paths, *texts):
    """sha256 over the named files (path and content) and the texts."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.name).encode() + b"\0" + Path(path).read_bytes() + b"\0")
    for text in texts:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def versions():
    import jax

    return f"numpy {np.__version__}, jax {jax.__version__}"


class AssignmentContext:
    """What grading one assignment needs."""

    def __init__(self, course, assignment, limits):
        self.course = course
        self.assignment = assignment
        course.check_points(assignment)      # the notebook agrees with the manifest
        self.checks = checks_module.load(assignment)
        self.release_notebook = course.release_notebook(assignment)
        self.max_score = float(sum(check.points for check in self.checks.values()))
        self.references_digest = digest_of(reference_sources(), versions())
        self.digest = digest_of(grading_sources(), versions(), nbformat.writes(self.release_notebook),
                                json.dumps(dataclasses.asdict(limits), sort_keys=True))
        self.references = {}
        self.compile_cache = None          # a folder the sandbox mounts read-only, once prepared

    def warm_references(self):
        """Computes every reference result once per version of the checks and lectlib and
        keeps them on disk (JAX compiles each small reference computation: seconds)."""
        stored = self.course.state_dir / "references" / f"{self.assignment}-{self.references_digest[:20]}.npz"
        keys = [(check, index) for check in self.checks.values() for index in range(len(check.cases))]
        values = None
        if stored.exists():
            try:
                with np.load(stored, allow_pickle=False) as saved:
                    arrays = {name: saved[name] for name in saved.files}
                specs = json.loads(str(arrays.pop("__structure__")))
                values = {(c.grade_id, i): unflatten(specs[f"{c.grade_id}/{i}"], arrays) for c, i in keys}
            except (OSError, ValueError, KeyError):
                values = None
        if values is None:
            values, arrays, specs = {}, {}, {}
            for check, index in keys:
                values[(check.grade_id, index)] = checks_module.reference_output(check, index)
                specs[f"{check.grade_id}/{index}"] = flatten(values[(check.grade_id, index)], arrays)
            stored.parent.mkdir(parents=True, exist_ok=True)
            arrays["__structure__"] = np.array(json.dumps(specs))
            temporary = stored.with_name(stored.stem + ".tmp.npz")
            np.savez(temporary, **arrays)
            temporary.replace(stored)
        for check, index in keys:
            checks_module.seed_reference(check, index, values[(check.grade_id, index)])
        self.references = {gid: [values[(gid, i)] for i in range(len(check.cases))]
                           for gid, check in self.checks.items()}

    def prepare_compile_cache(self, limits):
        """Fills (once per version of the assignment) and returns the JAX compilation cache
        of this assignment: the folder of what compiling the reference answers produced.
        ``None`` when it cannot be prepared (grading then works as well, only slower)."""
        solution_path = self.course.solutions / self.assignment / f"{self.assignment}.ipynb"
        # JAX keys every entry by the compiled program, its options and JAX's version, so an
        # entry never serves another program; a new folder is filled only when what the
        # reference answers run may have changed.
        digest = digest_of([solution_path, HERE / "plan.py", HERE / "run.py", HERE / "executor.py", HERE / "wire.py",
                            HERE / "checks" / "__init__.py", HERE / "checks" / f"{self.assignment}.py"],
                           versions(), nbformat.writes(self.release_notebook))
        folder = self.course.state_dir / "compile-cache" / f"{self.assignment}-{digest[:20]}"
        if (folder / COMPLETE).exists():
            self.compile_cache = folder
            return folder
        from autograder import plan as plan_stage
        from autograder import run as run_stage

        solution = nbformat.read(solution_path, as_version=4)
        remove_abandoned_fillings(folder.parent)
        filling = folder.with_name(f"{folder.name}.filling-{sandbox.owner()}")
        shutil.rmtree(filling, ignore_errors=True)
        filling.mkdir(parents=True)
        try:
            plan = plan_stage.build_plan(solution, self.release_notebook, self.checks, limits.cell_seconds)
            # The reference answers are the course's own code: they run outside the sandbox,
            # where the cache folder can be written.
            result = run_stage.run(plan, limits, unsafe=True,
                                   env=run_stage.compile_cache_environment(filling, fill=True))
            if result.status != "ok":
                print(f"warning: {self.assignment}: the reference answers did not run ({result.status}), so "
                      f"grading runs without a compilation cache (slower, same results)", file=sys.stderr)
                return None
            (filling / COMPLETE).write_text(versions() + "\n")
            try:
                filling.rename(folder)
            except OSError:              # another grader filled it first
                pass
        finally:
            shutil.rmtree(filling, ignore_errors=True)
        self.compile_cache = folder if (folder / COMPLETE).exists() else None
        return self.compile_cache


COMPLETE = "complete"


FILLING_NAME = re.compile(r"\.filling-(\d+)-(\d+)$")


def remove_abandoned_fillings(folder):
    """Removes cache folders that a grader killed while filling them left behind (their
    names end in their owner, ``sandbox.owner()``, which no longer runs)."""
    for filling in Path(folder).glob("*.filling-*"):
        named = FILLING_NAME.search(filling.name)
        if named and not sandbox.owner_alive(*named.groups()):
            shutil.rmtree(filling, ignore_errors=True)


def flatten(value, arrays):
    """A JSON description of a reference result whose arrays go into ``arrays``."""
    if isinstance(value, tuple):
        return {"tuple": [flatten(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": {k: flatten(v, arrays) for k, v in value.items()}}
    name = f"r{len(arrays)}"
    arrays[name] = value
    return {"array": name}


def unflatten(spec, arrays):
    if "tuple" in spec:
        return tuple(unflatten(s, arrays) for s in spec["tuple"])
    if "dict" in spec:
        return {k: unflatten(s, arrays) for k, s in spec["dict"].items()}
    return arrays[spec["array"]]
