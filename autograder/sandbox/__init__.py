"""The grading sandbox: runs a student's submission isolated and limited.

Isolation comes from bubblewrap (Debian package ``bubblewrap``): new user, PID, network,
IPC, UTS and mount namespaces, no capabilities, uid/gid 65534, no network interfaces but
loopback, and a read-only file system that holds only what the caller binds (the Python
installation, the runner and its wire format) plus a scratch folder on a tmpfs of
``disk_bytes`` (bubblewrap's ``--size`` with ``--tmpfs``) in the sandbox's own mount
namespace: the trusted process never sees or reads it, and it vanishes with the run.
The course's ``solutions/``, ``lectlib``, the gradebook, other submissions and graded
output are not in it.

Limits come from a control group per run (cgroup v2, or the v1 ``memory``, ``pids`` and
``cpu`` hierarchies): memory including swap (the limit is ``memory_bytes + disk_bytes``,
since files on a tmpfs are memory too), number of processes, CPU share, and a wall-clock
limit after which everything in the group is killed. ``prlimit`` adds no core dumps and a
largest file size. The command's input comes on its standard input; what it prints and
what it sends back on the results pipe are read without blocking, each up to a bound.

Every live run is in a registry (its process group, control group and, with ``--unsafe``,
its host scratch folder) so that an interrupted batch can stop them all at once:
``interrupt()`` kills every live run and makes new ones refuse to start (they raise
``Interrupted``), ``cleanup_live()`` removes what is left. Control groups and host scratch
folders are named after their owner (pid and start time), so ``remove_stale()`` can remove,
at the next start, what a grader that was killed outright (``kill -9``) left behind, and
never what a grader still running owns.

One module per part: ``cgroups`` (control groups), ``bwrap`` (the bubblewrap command and
whether this machine can set it up), ``owners`` (names after the grader that made them),
``live`` (the registry of live runs, what killed graders left), ``run`` (one run). What
callers use is here.
"""
from autograder.sandbox.bwrap import SCRATCH, bwrap_command, clean_environment, python_installation, sandbox_problems
from autograder.sandbox.cgroups import CGROUP_ROOT, ControlGroup, cgroup_problems
from autograder.sandbox.live import Interrupted, cleanup_live, interrupt, interrupted, live_runs, remove_stale, resume
from autograder.sandbox.owners import UNSAFE_PREFIX, owned_temporary_folder, owner, owner_alive
from autograder.sandbox.run import KILLED_BY_US, Limits, RunResult, run_sandboxed

__all__ = ["CGROUP_ROOT", "KILLED_BY_US", "SCRATCH", "UNSAFE_PREFIX", "ControlGroup", "Interrupted", "Limits", "RunResult",
           "bwrap_command", "cgroup_problems", "clean_environment", "cleanup_live", "interrupt", "interrupted",
           "live_runs", "owned_temporary_folder", "owner", "owner_alive", "python_installation", "remove_stale",
           "resume", "run_sandboxed", "sandbox_problems"]
