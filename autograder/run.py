"""Stage 3, run: one plan in the sandbox (``sandbox.run_sandboxed``) with the runner
(``executor.py``) and the wire format (``wire.py``), the only course files it sees."""
import sys
from pathlib import Path

from autograder import sandbox

HERE = Path(__file__).resolve().parent
EXECUTOR = HERE / "executor.py"
WIRE = HERE / "wire.py"


def run(plan, limits, unsafe=False):
    """The ``sandbox.RunResult`` of running ``plan`` (a ``plan.Plan``) under ``limits``."""
    plan.header["scratch_bytes"] = 0 if unsafe else int(limits.disk_bytes)
    return sandbox.run_sandboxed([sys.executable, str(EXECUTOR)], readonly=[EXECUTOR, WIRE], limits=limits,
                                 unsafe=unsafe, stdin=plan.message())
