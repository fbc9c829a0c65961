"""The registry of live runs: each run's process group, control group and, with
``--unsafe``, its host scratch folder, so that an interrupted batch can stop them all at
once: ``interrupt()`` kills every live run and makes new ones refuse to start (they raise
``Interrupted``), ``cleanup_live()`` removes what is left; ``remove_stale()`` removes, at
the next start, what a grader killed outright (``kill -9``) left behind, never what a
grader still running owns."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.sandbox import cgroups, owners


class Interrupted(Exception):
    """The run was stopped because grading was interrupted (Ctrl-C, SIGTERM): it has no result."""


class LiveRun:
    """What one run holds while it lives: its control group, host scratch folder and process."""

    def __init__(self):
        self.group = None
        self.host_scratch = None
        self.process = None
        self.aborted = False

    def is_aborted(self):
        with _live_lock:
            return self.aborted

    def started(self, process):
        """Records the run's ``process``; returns whether the run was aborted meanwhile."""
        with _live_lock:
            self.process = process
            return self.aborted


_live_lock = threading.RLock()     # re-entrant: a signal handler may run while this thread holds it
_live_runs = set()
_aborting = threading.Event()


def register():
    """A new ``LiveRun`` in the registry; ``Interrupted`` while grading is interrupted."""
    with _live_lock:
        if _aborting.is_set():
            raise Interrupted("grading was interrupted; this run did not start")
        live = LiveRun()
        _live_runs.add(live)
        return live


def unregister(live):
    with _live_lock:
        _live_runs.discard(live)


def abort(live):
    """Kills ``live``'s processes; it will raise ``Interrupted`` instead of returning."""
    with _live_lock:
        live.aborted = True
        process, group, host_scratch = live.process, live.group, live.host_scratch
    if process is not None:
        kill(process, group)
    elif group is not None:
        group.kill_all()
    if group is None and host_scratch is not None:
        kill_by_environment(host_scratch)


def kill_by_environment(folder):
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
        abort(live)


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
        abort(live)
        if live.group is not None:
            live.group.remove()
        if live.host_scratch is not None:
            remove_tree(live.host_scratch)
        with _live_lock:
            _live_runs.discard(live)


def remove_stale(now=None):
    """Removes what graders killed outright left behind: control groups named after an owner
    that no longer runs (their processes are killed first), empty control groups of unknown
    owner (named before owners were recorded) older than ``ORPHAN_SECONDS``, and host scratch
    folders (``--unsafe``) of owners that no longer run. What a running grader owns is kept.

    Returns ``(control groups removed, scratch folders removed)``."""
    now = time.time() if now is None else now
    groups = folders = 0
    for parent in cgroups.parents():
        try:
            children = [child for child in parent.iterdir() if child.name.startswith("autograder-")]
        except OSError:
            continue
        for child in children:
            named = owners.CGROUP_NAME.match(child.name)
            if named:
                if owners.owner_alive(*named.groups()):
                    continue
                cgroups.kill_folder(child)
            elif owners.OLD_CGROUP_NAME.match(child.name):
                try:
                    old = now - child.stat().st_mtime > owners.ORPHAN_SECONDS
                except OSError:
                    continue
                if not (old and cgroups.is_empty(child)):
                    continue
            else:
                continue
            groups += cgroups.remove_folder(child, attempts=50)
    temporary = Path(tempfile.gettempdir())
    try:
        candidates = [p for p in temporary.iterdir() if p.name.startswith(owners.UNSAFE_PREFIX)]
    except OSError:
        candidates = []
    for folder in candidates:
        named = owners.UNSAFE_NAME.match(folder.name)
        if named and not owners.owner_alive(*named.groups()) and folder.is_dir() and not folder.is_symlink():
            kill_by_environment(folder)
            remove_tree(folder)
            folders += not folder.exists()
    return groups, folders


def remove_tree(path, seconds=60):
    """Removes a folder the student wrote (only with ``--unsafe``): ``rm`` does not follow
    links and walks deep trees without recursion; it gets a bounded time."""
    try:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], timeout=seconds,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print(f"warning: could not remove {path} within {seconds} s", file=sys.stderr)


def kill(process, group):
    """Kills the run's process group and everything in its control group."""
    if group is not None:
        group.kill_all()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
