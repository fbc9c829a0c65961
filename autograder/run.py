"""Stage 3, run: one plan in the sandbox (``sandbox.run_sandboxed``) with the runner
(``executor.py``) and the wire format (``wire.py``), the only course files it sees."""
import shutil
import sys
from pathlib import Path

from autograder import sandbox

HERE = Path(__file__).resolve().parent
EXECUTOR = HERE / "executor.py"
WIRE = HERE / "wire.py"


def run(plan, limits, unsafe=False, compile_cache=None, env=None):
    """The ``sandbox.RunResult`` of running ``plan`` (a ``plan.Plan``) under ``limits``.

    ``compile_cache``: a JAX compilation cache folder (``assignment``), mounted read-only
    and used by JAX in the run. ``env``: variables added to the run's environment."""
    plan.header["scratch_bytes"] = 0 if unsafe else int(limits.disk_bytes)
    readonly, environment = [EXECUTOR, WIRE], dict(env or {})
    private_copy = None
    if compile_cache is not None:
        from autograder.assignment import compile_cache_environment

        if unsafe:
            # Nothing is read-only without the sandbox: the run gets a copy it may spoil.
            private_copy = sandbox.owned_temporary_folder("cache")
            compile_cache = shutil.copytree(compile_cache, private_copy / "cache")
        readonly.append(compile_cache)
        environment.update(compile_cache_environment(compile_cache))
    try:
        return sandbox.run_sandboxed([sys.executable, str(EXECUTOR)], readonly=readonly, limits=limits,
                                     unsafe=unsafe, env=environment, stdin=plan.message())
    finally:
        if private_copy is not None:
            shutil.rmtree(private_copy, ignore_errors=True)
