"""Stage 3, run: one plan in the sandbox (``sandbox.run_sandboxed``) with the runner
(``executor.py``) and the wire format (``wire.py``), the only course files it sees."""
import shutil
import sys
from pathlib import Path

from autograder import sandbox
from autograder.decode import Feeder

HERE = Path(__file__).resolve().parent
EXECUTOR = HERE / "executor.py"
WIRE = HERE / "wire.py"


def run(plan, limits, unsafe=False, compile_cache=None, env=None):
    """The ``sandbox.RunResult`` of running ``plan`` (a ``plan.Plan``) under ``limits``.

    ``compile_cache``: a JAX compilation cache folder (``assignment`` fills it), mounted
    read-only and used by JAX in the run. ``env``: variables added to the run's environment."""
    plan.header["scratch_bytes"] = 0 if unsafe else int(limits.disk_bytes)
    readonly, environment = [EXECUTOR, WIRE], dict(env or {})
    private_copy = None
    if compile_cache is not None:
        if unsafe:
            # Nothing is read-only without the sandbox: the run gets a copy it may spoil.
            private_copy = sandbox.owned_temporary_folder("cache")
            compile_cache = shutil.copytree(compile_cache, private_copy / "cache")
        readonly.append(compile_cache)
        environment.update(compile_cache_environment(compile_cache))
    try:
        return sandbox.run_sandboxed([sys.executable, str(EXECUTOR)], readonly=readonly, limits=limits,
                                     unsafe=unsafe, env=environment, stdin=Feeder(plan))
    finally:
        if private_copy is not None:
            shutil.rmtree(private_copy, ignore_errors=True)


def compile_cache_environment(folder, fill=False):
    """The variables that make JAX look up every compiled program in ``folder`` (its
    persistent compilation cache) and, with ``fill``, store every one there, however small
    or quickly compiled; without ``fill`` it never tries to store one.

    XLA's own caches stay off: JAX would put their paths, inside ``folder``, into every
    program's compile options and so into its key, and the sandbox mounts the folder
    elsewhere than where it was filled."""
    return {"JAX_COMPILATION_CACHE_DIR": str(folder), "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": "none",
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0" if fill else "1e9",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
