"""Control groups: one per run (cgroup v2, or the v1 ``memory``, ``pids`` and ``cpu``
hierarchies), for memory including swap, number of processes and CPU share; killing
everything in one; finding our own parents and what a killed grader left there."""
import os
import signal
import time
import uuid
from pathlib import Path

from autograder.sandbox.owners import owner

CGROUP_ROOT = Path("/sys/fs/cgroup")


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
            remove_folder(path)


def remove_folder(path, attempts=100):
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


def kill_folder(path):
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


def parents():
    """The folders our control groups are made in (one per hierarchy)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [_own_cgroup_v2()]
    return [path for path in (_own_cgroup_v1(c) for c in ("memory", "pids", "cpu"))
            if path.is_dir() and os.access(path, os.W_OK)]


def is_empty(path):
    try:
        return not (path / "cgroup.procs").read_text().split()
    except OSError:
        return False
