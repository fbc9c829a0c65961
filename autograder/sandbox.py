"""The grading sandbox: runs a student's submission isolated and limited.

Isolation comes from bubblewrap (Debian package ``bubblewrap``): new user, PID, network,
IPC, UTS and mount namespaces, no capabilities, uid/gid 65534, no network interfaces but
loopback, and a file system that holds only what the caller binds read-only (the Python
installation, the course's ``lectlib``, the executor) plus one writable scratch folder.
The course's ``solutions/``, the gradebook, other submissions and graded output are not
in it.

Limits come from a control group per run (cgroup v2, or the v1 ``memory``, ``pids`` and
``cpu`` hierarchies): memory including swap, number of processes, CPU share, and a
wall-clock limit after which everything in the group is killed. ``prlimit`` adds no core dumps and a largest
file size. What the process prints is read through pipes and cut at ``output_bytes``.
"""
import dataclasses
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
KILLED_BY_US = {"timeout", "output-limit"}


@dataclasses.dataclass
class Limits:
    memory_bytes: int = 2 * 1024**3
    pids: int = 64
    wall_seconds: float = 300.0
    cell_seconds: float = 60.0        # enforced by the executor, per cell and per call
    output_bytes: int = 1024**2
    file_bytes: int = 256 * 1024**2   # the largest file the submission may write
    cpus: float = 1.0                 # CPU time per wall second (a fork bomb cannot take every core)


@dataclasses.dataclass
class RunResult:
    status: str        # "ok", "timeout", "memory", "output-limit", "process-limit",
                       # "crashed" (any other non-zero exit or signal)
    returncode: int | None
    stdout: bytes
    stderr: bytes
    wall_seconds: float
    hit_process_limit: bool = False   # some fork was refused, whatever the exit status


def python_installation():
    """Folders the interpreter needs: its installation and the virtual environment."""
    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(folders)


# ---------------------------------------------------------------- control groups

class ControlGroup:
    """One per run: created before the process starts, removed after everything in it is dead."""

    def __init__(self, limits):
        self.name = f"autograder-{uuid.uuid4().hex[:12]}"
        self.paths = {}
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            self.version = 2
            parent = _own_cgroup_v2()
            path = parent / self.name
            path.mkdir()
            self.paths["unified"] = path
            _write(path / "memory.max", limits.memory_bytes)
            if (path / "memory.swap.max").exists():
                _write(path / "memory.swap.max", 0)
            _write(path / "pids.max", limits.pids)
            if (path / "cpu.max").exists():
                _write(path / "cpu.max", f"{int(limits.cpus * 100_000)} 100000")
        else:
            self.version = 1
            for controller in ("memory", "pids"):
                path = _own_cgroup_v1(controller) / self.name
                path.mkdir()
                self.paths[controller] = path
            memory = self.paths["memory"]
            _write(memory / "memory.limit_in_bytes", limits.memory_bytes)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes)
            _write(self.paths["pids"] / "pids.max", limits.pids)
            cpu = _own_cgroup_v1("cpu")
            if (cpu / "cpu.cfs_quota_us").exists() and os.access(cpu, os.W_OK):
                path = cpu / self.name
                path.mkdir()
                self.paths["cpu"] = path
                _write(path / "cpu.cfs_period_us", 100_000)
                _write(path / "cpu.cfs_quota_us", int(limits.cpus * 100_000))

    def procs_files(self):
        return [path / "cgroup.procs" for path in self.paths.values()]

    def pids(self):
        found = set()
        for procs in self.procs_files():
            try:
                found.update(int(line) for line in procs.read_text().split())
            except OSError:
                pass
        return found

    def kill_all(self):
        path = self.paths.get("unified")
        if path is not None and (path / "cgroup.kill").exists():
            _write(path / "cgroup.kill", 1)
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def out_of_memory(self):
        if self.version == 2:
            events = (self.paths["unified"] / "memory.events").read_text()
            return any(line.split()[0] in ("oom_kill", "oom") and int(line.split()[1]) > 0
                       for line in events.splitlines())
        memory = self.paths["memory"]
        oom = (memory / "memory.oom_control").read_text()
        killed = any(line.startswith("oom_kill ") and int(line.split()[1]) > 0 for line in oom.splitlines())
        failed = int((memory / "memory.failcnt").read_text() or 0) > 0
        if (memory / "memory.memsw.failcnt").exists():
            failed = failed or int((memory / "memory.memsw.failcnt").read_text() or 0) > 0
        return killed or failed

    def hit_process_limit(self):
        path = self.paths.get("unified") or self.paths.get("pids")
        try:
            events = (path / "pids.events").read_text()
        except OSError:
            return False
        return any(line.split()[0] == "max" and int(line.split()[1]) > 0 for line in events.splitlines())

    def remove(self):
        self.kill_all()
        for path in self.paths.values():
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


def _write(path, value):
    path.write_text(f"{value}\n")


def _own_cgroup_v2():
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            candidate = CGROUP_ROOT / line[3:].lstrip("/")
            if os.access(candidate, os.W_OK):
                return candidate
    return CGROUP_ROOT


def _own_cgroup_v1(controller):
    base = CGROUP_ROOT / controller
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            candidate = base / path.lstrip("/")
            if candidate.is_dir() and os.access(candidate, os.W_OK):
                return candidate
    return base


def cgroup_problems():
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        parent = _own_cgroup_v2()
        available = (parent / "cgroup.controllers").read_text().split() if (parent / "cgroup.controllers").exists() else []
        missing = [c for c in ("memory", "pids") if c not in available]
        if missing:
            return [f"cgroup v2 at {parent} lacks the {', '.join(missing)} controller(s); "
                    f"enable them in the parent's cgroup.subtree_control"]
        if not os.access(parent, os.W_OK):
            return [f"cannot create control groups under {parent}: grading needs to run as root"]
        return []
    problems = []
    for controller in ("memory", "pids"):
        base = _own_cgroup_v1(controller)
        if not base.is_dir():
            problems.append(f"the cgroup {controller} controller is not mounted at {CGROUP_ROOT / controller}")
        elif not os.access(base, os.W_OK):
            problems.append(f"cannot create control groups under {base}: grading needs to run as root")
    return problems


# ---------------------------------------------------------------- the sandbox

def sandbox_problems():
    """What stops the sandbox from being set up here: ``[]`` when nothing does."""
    problems = []
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        problems.append("bubblewrap is not installed (the 'bwrap' command); run 'make setup', "
                        "which installs the Debian package bubblewrap")
    if shutil.which("prlimit") is None:
        problems.append("prlimit is not installed (Debian package util-linux)")
    problems += cgroup_problems()
    if not problems:
        probe = subprocess.run([bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
                                "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                                "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                                "--cap-drop", "ALL", "--die-with-parent", "/bin/true"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            problems.append(f"bubblewrap cannot create namespaces here: {probe.stderr.strip()}")
    return problems


def bwrap_command(argv, scratch, readonly, env):
    command = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
               "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
               "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
               "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"):
        if os.path.exists(etc):
            command += ["--ro-bind", etc, etc]
    for path in readonly:
        path = str(Path(path).resolve())
        command += ["--ro-bind", path, path]
    scratch = str(Path(scratch).resolve())
    command += ["--bind", scratch, scratch, "--chdir", scratch]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return command + ["--"] + list(argv)


def clean_environment(scratch, extra=None):
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(scratch), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "JAX_PLATFORMS": "cpu",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    }
    env.update(extra or {})
    return env


class CappedReader(threading.Thread):
    """Reads a pipe to the end, keeping at most ``limit`` bytes; calls ``on_overflow`` once."""

    def __init__(self, pipe, limit, on_overflow):
        super().__init__(daemon=True)
        self.pipe, self.limit, self.on_overflow = pipe, limit, on_overflow
        self.kept = bytearray()
        self.overflowed = False

    def run(self):
        while True:
            chunk = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
            if not chunk:
                return
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            if len(chunk) > max(room, 0) and not self.overflowed:
                self.overflowed = True
                self.on_overflow()


def run_sandboxed(argv, *, scratch, readonly, limits, env=None, unsafe=False):
    """Runs ``argv`` in the sandbox with ``scratch`` as its working (and only writable) folder.

    Arguments:
        argv: the command, e.g. ``[python, "/path/executor.py"]``.
        scratch: a folder the run may write; nothing else is writable.
        readonly: folders and files visible read-only at their own paths.
        limits: a ``Limits``.
        env: variables added to a small clean environment.
        unsafe: no namespaces (no isolation) but the same limits where they can be applied.
    Returns:
        A ``RunResult``. Status ``"ok"`` means exit code 0.
    """
    scratch = Path(scratch)
    environment = clean_environment(scratch, env)
    group = ControlGroup(limits) if (unsafe is False or not cgroup_problems()) else None
    inner = list(argv) if unsafe else bwrap_command(argv, scratch, list(readonly) + python_installation(), environment)
    inner = ["prlimit", "--core=0", f"--fsize={limits.file_bytes}", "--"] + inner
    if group is not None:
        joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in group.procs_files())
        inner = ["/bin/sh", "-c", f"{joins} && exec \"$@\"", "sh"] + inner
    killed_for = []
    start = time.perf_counter()
    process = subprocess.Popen(inner, cwd=scratch, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment if unsafe else {"PATH": "/usr/bin:/bin"},
                               start_new_session=True)

    def stop(reason):
        if not killed_for:
            killed_for.append(reason)
        _kill(process, group)

    readers = [CappedReader(process.stdout, limits.output_bytes, lambda: stop("output-limit")),
               CappedReader(process.stderr, limits.output_bytes, lambda: stop("output-limit"))]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        stop("timeout")
        process.wait()
    finally:
        _kill(process, group)
        for reader in readers:
            reader.join(timeout=5)
        out_of_memory = group is not None and group.out_of_memory()
        too_many_processes = group is not None and group.hit_process_limit()
        if group is not None:
            group.remove()
    seconds = time.perf_counter() - start
    code = process.returncode
    if killed_for:
        status = killed_for[0]
    elif out_of_memory and code != 0:
        status = "memory"
    elif code == 0:
        status = "ok"
    elif too_many_processes:
        status = "process-limit"
    else:
        status = "crashed"
    return RunResult(status, code, bytes(readers[0].kept), bytes(readers[1].kept), seconds, too_many_processes)


def _kill(process, group):
    if group is not None:
        group.kill_all()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
