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
"""
import dataclasses
import os
import queue
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
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
    cell_seconds: float = 60.0        # enforced by the runner, per cell and per call
    output_bytes: int = 1024**2       # kept from the terminal (stdout, stderr each) before the run is stopped
    disk_bytes: int = 1024**3         # the scratch folder's size (a tmpfs; its pages count as memory too)
    result_bytes: int = 64 * 1024**2  # the most the runner may send back
    cpus: float = 1.0                 # CPU time per wall second (a fork bomb cannot take every core)

    @property
    def largest_file_bytes(self):
        """``RLIMIT_FSIZE``: above the quota, so that a full scratch folder says so (ENOSPC)
        instead of killing the writer; with ``--unsafe`` it is the only bound on a file."""
        return self.disk_bytes + 16 * 1024**2


@dataclasses.dataclass
class RunResult:
    status: str        # "ok", "timeout", "memory", "output-limit", "process-limit",
                       # "crashed" (any other non-zero exit or signal)
    returncode: int | None
    stdout: bytes
    stderr: bytes
    wall_seconds: float
    hit_process_limit: bool = False   # some fork was refused, whatever the exit status
    results: bytes = b""              # what the runner sent on its results pipe (bounded)
    results_overflowed: bool = False  # it tried to send more than ``Limits.result_bytes``


def python_installation():
    """Folders the interpreter needs: its installation and the virtual environment."""
    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(folders)


class Interrupted(Exception):
    """The run was stopped because grading was interrupted (Ctrl-C, SIGTERM): it has no result."""


# ---------------------------------------------------------------- owners

def _start_time(pid):
    """The start time of process ``pid`` (clock ticks since boot), ``None`` if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner():
    """This process as the owner of control groups and scratch folders: ``<pid>-<start time>``."""
    pid = os.getpid()
    return f"{pid}-{_start_time(pid)}"


def owner_alive(pid, start):
    """Whether the owner ``<pid>-<start time>`` (the two parts, as text) still runs."""
    return _start_time(int(pid)) == start


def owned_temporary_folder(label):
    """A new host temporary folder named after this process (``autograder-unsafe-<owner>-<label>-*``),
    so that ``remove_stale`` removes it should this process be killed before removing it."""
    return Path(tempfile.mkdtemp(prefix=f"{UNSAFE_PREFIX}{owner()}-{label}-"))


CGROUP_NAME = re.compile(r"^autograder-(\d+)-(\d+)-[0-9a-f]+$")
OLD_CGROUP_NAME = re.compile(r"^autograder-[0-9a-f]{12}$")     # before names carried their owner
UNSAFE_PREFIX = "autograder-unsafe-"
UNSAFE_NAME = re.compile(r"^autograder-unsafe-(\d+)-(\d+)-")
ORPHAN_SECONDS = 900    # an empty control group of unknown owner this old is debris


# ---------------------------------------------------------------- control groups

class ControlGroup:
    """One per run: created before the process starts, removed after everything in it is dead."""

    def __init__(self, limits, extra_memory=0):
        self.name = f"autograder-{owner()}-{uuid.uuid4().hex[:8]}"
        self.paths = {}
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            self.version = 2
            parent = _own_cgroup_v2()
            path = parent / self.name
            path.mkdir()
            self.paths["unified"] = path
            _write(path / "memory.max", limits.memory_bytes + extra_memory)
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
            _write(memory / "memory.limit_in_bytes", limits.memory_bytes + extra_memory)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes + extra_memory)
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
            _remove_cgroup_folder(path)


def _remove_cgroup_folder(path, attempts=100):
    """``rmdir`` of a control group, retried while its last processes are being reaped."""
    for _ in range(attempts):
        try:
            path.rmdir()
            return True
        except (FileNotFoundError, PermissionError):
            return False
        except OSError:
            time.sleep(0.02)
    return False


def _kill_cgroup_folder(path):
    """Kills every process in the control group at ``path`` (any version, any owner)."""
    if (path / "cgroup.kill").exists():
        try:
            _write(path / "cgroup.kill", 1)
        except OSError:
            pass
    for _ in range(200):
        try:
            pids = [int(line) for line in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


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


SCRATCH = "/tmp/scratch"      # the working folder inside the sandbox, on the size-limited /tmp


def bwrap_command(argv, readonly, env, limits, keep_fds=()):
    """The bubblewrap command line. The whole file system is read-only except ``/tmp`` (a
    tmpfs of ``limits.disk_bytes``, holding the scratch folder) and a small ``/dev/shm``; both
    live in the sandbox's own mount namespace and vanish with it."""
    command = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
               "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
               "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
               "--proc", "/proc", "--dev", "/dev",
               "--perms", "1777", "--size", str(16 * 1024**2), "--tmpfs", "/dev/shm",
               "--perms", "1777", "--size", str(int(limits.disk_bytes)), "--tmpfs", "/tmp",
               "--perms", "0700", "--dir", SCRATCH]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"):
        if os.path.exists(etc):
            command += ["--ro-bind", etc, etc]
    for path in readonly:
        path = str(Path(path).resolve())
        command += ["--ro-bind", path, path]
    command += ["--chdir", SCRATCH, "--remount-ro", "/"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return command + ["--"] + list(argv)


def clean_environment(scratch, extra=None):
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(scratch), "TMPDIR": str(scratch), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{scratch}/.matplotlib", "JAX_PLATFORMS": "cpu",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    }
    env.update(extra or {})
    return env


class _Stream:
    """One pipe from the sandbox, read without blocking and kept up to ``limit`` bytes."""

    def __init__(self, fd, limit, name):
        self.fd, self.limit, self.name = fd, limit, name
        self.kept = bytearray()
        self.overflowed = False
        os.set_blocking(fd, False)

    def read(self):
        """Reads what is there; ``False`` at the end of the stream."""
        try:
            chunk = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        if len(chunk) > max(room, 0):
            self.overflowed = True
        return True


class _Feed:
    """Writes to the runner's standard input from a thread of its own (the runner may
    never read): the first bytes at once, later ones as they are queued; ``None`` closes it."""

    def __init__(self, fd, first):
        self.fd = fd
        self.queue = queue.SimpleQueue()
        self.queue.put(first)
        threading.Thread(target=self._write, daemon=True).start()

    def put(self, data):
        self.queue.put(data)

    def _write(self):
        try:
            while True:
                data = self.queue.get()
                if data is None:
                    break
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
        except OSError:
            pass
        finally:
            os.close(self.fd)


def _remove_tree(path, seconds=60):
    """Removes a folder the student wrote (only with ``--unsafe``): ``rm`` does not follow
    links and walks deep trees without recursion; it gets a bounded time."""
    try:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], timeout=seconds,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print(f"warning: could not remove {path} within {seconds} s", file=sys.stderr)


# ---------------------------------------------------------------- live runs

class _LiveRun:
    """What one run holds while it lives: its control group, host scratch folder and process."""

    def __init__(self):
        self.group = None
        self.host_scratch = None
        self.process = None
        self.aborted = False


_live_lock = threading.RLock()     # re-entrant: a signal handler may run while this thread holds it
_live_runs = set()
_aborting = threading.Event()


def _register():
    with _live_lock:
        if _aborting.is_set():
            raise Interrupted("grading was interrupted; this run did not start")
        live = _LiveRun()
        _live_runs.add(live)
        return live


def _abort(live):
    """Kills ``live``'s processes; it will raise ``Interrupted`` instead of returning."""
    with _live_lock:
        live.aborted = True
        process, group, host_scratch = live.process, live.group, live.host_scratch
    if process is not None:
        _kill(process, group)
    elif group is not None:
        group.kill_all()
    if group is None and host_scratch is not None:
        _kill_by_environment(host_scratch)


def _kill_by_environment(folder):
    """Kills every process whose environment names ``folder`` as its ``TMPDIR``: with
    ``--unsafe`` and no control groups, how what a run started in sessions of its own is
    found (without isolation a process could still hide; ``--unsafe`` is for trusted code)."""
    needle = f"\0TMPDIR={folder}\0".encode()
    for _ in range(3):
        found = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environment = b"\0" + (entry / "environ").read_bytes() + b"\0"
            except OSError:
                continue
            if needle in environment:
                found = True
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not found:
            return
        time.sleep(0.01)


def interrupt():
    """Kills every live run (each raises ``Interrupted``) and makes new runs refuse to start,
    until ``resume()``. Safe to call from a signal handler, and more than once."""
    with _live_lock:
        _aborting.set()
        runs = list(_live_runs)
    for live in runs:
        _abort(live)


def interrupted():
    return _aborting.is_set()


def resume():
    """Lets runs start again after ``interrupt()``."""
    _aborting.clear()


def live_runs():
    with _live_lock:
        return len(_live_runs)


def cleanup_live():
    """Kills what is left of every live run and removes its control group and host scratch
    folder (for runs whose own thread did not get to it, e.g. an abandoned one)."""
    with _live_lock:
        runs = list(_live_runs)
    for live in runs:
        _abort(live)
        if live.group is not None:
            live.group.remove()
        if live.host_scratch is not None:
            _remove_tree(live.host_scratch)
        with _live_lock:
            _live_runs.discard(live)


def _cgroup_parents():
    """The folders our control groups are made in (one per hierarchy)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [_own_cgroup_v2()]
    return [path for path in (_own_cgroup_v1(c) for c in ("memory", "pids", "cpu"))
            if path.is_dir() and os.access(path, os.W_OK)]


def _cgroup_is_empty(path):
    try:
        return not (path / "cgroup.procs").read_text().split()
    except OSError:
        return False


def remove_stale(now=None):
    """Removes what graders killed outright left behind: control groups named after an owner
    that no longer runs (their processes are killed first), empty control groups of unknown
    owner (named before owners were recorded) older than ``ORPHAN_SECONDS``, and host scratch
    folders (``--unsafe``) of owners that no longer run. What a running grader owns is kept.

    Returns ``(control groups removed, scratch folders removed)``."""
    now = time.time() if now is None else now
    groups = folders = 0
    for parent in _cgroup_parents():
        try:
            children = [child for child in parent.iterdir() if child.name.startswith("autograder-")]
        except OSError:
            continue
        for child in children:
            named = CGROUP_NAME.match(child.name)
            if named:
                if owner_alive(*named.groups()):
                    continue
                _kill_cgroup_folder(child)
            elif OLD_CGROUP_NAME.match(child.name):
                try:
                    old = now - child.stat().st_mtime > ORPHAN_SECONDS
                except OSError:
                    continue
                if not (old and _cgroup_is_empty(child)):
                    continue
            else:
                continue
            groups += _remove_cgroup_folder(child, attempts=50)
    temporary = Path(tempfile.gettempdir())
    try:
        candidates = [p for p in temporary.iterdir() if p.name.startswith(UNSAFE_PREFIX)]
    except OSError:
        candidates = []
    for folder in candidates:
        named = UNSAFE_NAME.match(folder.name)
        if named and not owner_alive(*named.groups()) and folder.is_dir() and not folder.is_symlink():
            _kill_by_environment(folder)
            _remove_tree(folder)
            folders += not folder.exists()
    return groups, folders


# ---------------------------------------------------------------- one run

def run_sandboxed(argv, *, readonly, limits, env=None, unsafe=False, stdin=b""):
    """Runs ``argv`` in the sandbox; its working folder (the only writable one) is a fresh
    scratch folder that nothing outside the sandbox reads.

    Arguments:
        argv: the command, e.g. ``[python, "/path/executor.py"]``.
        readonly: folders and files visible read-only at their own paths.
        limits: a ``Limits``.
        env: variables added to a small clean environment.
        unsafe: no namespaces (no isolation, no disk quota; the scratch folder is a
            temporary folder here) but the same other limits where they can be applied.
        stdin: bytes the command reads on its standard input, or a responder: an object
            with ``initial`` (bytes sent first) and ``respond(results so far)`` returning
            bytes to send next (``b""`` for none, ``None`` to close the standard input),
            asked each time results arrive. This is the grader's side of a conversation
            with the runner (``decode.Feeder``): a call's arguments enter the sandbox only
            when that call is made (a responder)
    Returns:
        A ``RunResult``. Status ``"ok"`` means exit code 0. What the command wrote to the
        file descriptor named by ``AUTOGRADER_RESULTS_FD`` is in ``results`` (at most
        ``limits.result_bytes``; more stops the run).
    Raises:
        Interrupted: ``interrupt()`` was called before or while it ran (everything it
        started is dead and its control group and scratch folder are gone).

    Everything here is bounded: each pipe is read without blocking up to its limit, the
    run is killed at ``limits.wall_seconds``, and a watchdog kills the control group a
    little later should this loop itself get stuck.
    """
    live = _register()
    try:
        return _run_registered(live, argv, readonly, limits, env, unsafe, stdin)
    finally:
        with _live_lock:
            _live_runs.discard(live)


def _run_registered(live, argv, readonly, limits, env, unsafe, stdin):
    host_scratch = group = None
    try:
        if unsafe:
            host_scratch = owned_temporary_folder("scratch")
            live.host_scratch = scratch = host_scratch
        else:
            scratch = Path(SCRATCH)
        if unsafe is False or not cgroup_problems():
            group = ControlGroup(limits, extra_memory=0 if unsafe else limits.disk_bytes)
        live.group = group
    except BaseException:
        if group is not None:
            group.remove()
        if host_scratch is not None:
            _remove_tree(host_scratch)
        raise
    results_read, results_write = os.pipe()
    environment = clean_environment(scratch, {**(env or {}), "AUTOGRADER_RESULTS_FD": str(results_write)})
    inner = list(argv) if unsafe else bwrap_command(argv, list(readonly) + python_installation(), environment, limits)
    inner = ["prlimit", "--core=0", f"--fsize={limits.largest_file_bytes}", "--"] + inner
    if group is not None:
        joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in group.procs_files())
        inner = ["/bin/sh", "-c", f"{joins} && exec \"$@\"", "sh"] + inner
    killed_for = []
    start = time.perf_counter()
    try:
        with _live_lock:
            aborted = live.aborted
        if aborted:
            raise Interrupted("grading was interrupted; this run did not start")
        process = subprocess.Popen(inner, cwd=scratch if unsafe else "/", stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=[results_write],
                                   env=environment if unsafe else {"PATH": "/usr/bin:/bin"}, start_new_session=True)
    except BaseException:
        os.close(results_read)
        if group is not None:
            group.remove()
        if host_scratch is not None:
            _remove_tree(host_scratch)
        raise
    finally:
        os.close(results_write)
    with _live_lock:
        live.process = process
        aborted = live.aborted
    if aborted:              # interrupt() came between the check and the start
        _kill(process, group)
    stdin_fd = os.dup(process.stdin.fileno())
    process.stdin.close()
    responder = None if isinstance(stdin, (bytes, bytearray)) else stdin
    feed = _Feed(stdin_fd, bytes(stdin) if responder is None else responder.initial)
    if responder is None:
        feed.put(None)

    def stop(reason):
        if not killed_for:
            killed_for.append(reason)
        _kill(process, group)

    watchdog = threading.Timer(limits.wall_seconds + 30, lambda: stop("timeout"))
    watchdog.daemon = True
    watchdog.start()
    streams = [_Stream(process.stdout.fileno(), limits.output_bytes, "stdout"),
               _Stream(process.stderr.fileno(), limits.output_bytes, "stderr"),
               _Stream(results_read, limits.result_bytes, "results")]
    selector = selectors.DefaultSelector()
    for stream in streams:
        selector.register(stream.fd, selectors.EVENT_READ, stream)
    deadline = start + limits.wall_seconds
    drain_until = None
    try:
        while selector.get_map():
            now = time.perf_counter()
            if process.poll() is not None and drain_until is None:
                _kill(process, group)             # what the notebook left running dies with it
                drain_until = now + 2.0
            limit_at = drain_until if drain_until is not None else deadline
            if now >= limit_at:
                if drain_until is None:
                    stop("timeout")
                    drain_until = time.perf_counter() + 2.0
                    continue
                break
            for key, _ in selector.select(timeout=min(0.25, max(limit_at - now, 0.001))):
                stream = key.data
                if not stream.read():
                    selector.unregister(stream.fd)
                elif stream.overflowed and not killed_for:
                    stop("output-limit")
                elif responder is not None and stream is streams[2]:
                    answer = responder.respond(stream.kept)
                    if answer:
                        feed.put(answer)
                    elif answer is None:
                        feed.put(None)
                        responder = None
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop("timeout")
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass         # not reaped in time: reported as a timeout all the same
    finally:
        watchdog.cancel()
        feed.put(None)
        _kill(process, group)
        selector.close()
        for closing in (process.stdout, process.stderr):
            closing.close()
        os.close(results_read)
        out_of_memory = group is not None and group.out_of_memory()
        too_many_processes = group is not None and group.hit_process_limit()
        if group is not None:
            group.remove()
        if host_scratch is not None:
            if group is None:
                _kill_by_environment(host_scratch)    # what it left running in sessions of its own
            _remove_tree(host_scratch)
    with _live_lock:
        aborted = live.aborted
    if aborted:
        raise Interrupted("grading was interrupted; this run was stopped")
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
    return RunResult(status, code, bytes(streams[0].kept), bytes(streams[1].kept), seconds, too_many_processes,
                     bytes(streams[2].kept), streams[2].overflowed)


def _kill(process, group):
    if group is not None:
        group.kill_all()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
