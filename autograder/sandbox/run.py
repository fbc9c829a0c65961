"""One sandboxed run: its limits, its result, and the run itself (``run_sandboxed``)."""
import dataclasses
import os
import queue
import selectors
import shlex
import subprocess
import threading
import time
from pathlib import Path

from autograder.sandbox import cgroups, owners
from autograder.sandbox import live as registry
from autograder.sandbox.bwrap import SCRATCH, bwrap_command, clean_environment, python_installation

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


class Stream:
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


class Feed:
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
    live = registry.register()
    try:
        return _run_registered(live, argv, readonly, limits, env, unsafe, stdin)
    finally:
        registry.unregister(live)


def _run_registered(live, argv, readonly, limits, env, unsafe, stdin):
    run = _Run(live, limits, unsafe)
    run.prepare()
    run.start(argv, readonly, env)
    run.converse(stdin)
    return run.result()


class _Run:
    """One registered run, in its steps: ``prepare`` (the scratch folder and control
    group), ``start`` (the command in bubblewrap, under ``prlimit``, in the control group),
    ``converse`` (read the pipes, answer a responder, stop the run at a limit, wait for its
    end, then ``clean_up``), ``result``. Whatever a step made is removed if a later one fails."""

    def __init__(self, live, limits, unsafe):
        self.live, self.limits, self.unsafe = live, limits, unsafe
        self.host_scratch = self.group = self.process = None
        self.scratch = Path(SCRATCH)
        self.killed_for = []              # why this side stopped the run: "timeout", "output-limit"
        self.streams = []
        self.out_of_memory = self.too_many_processes = False

    def prepare(self):
        """The host scratch folder (``--unsafe``) and the control group, both in the registry."""
        try:
            if self.unsafe:
                self.host_scratch = owners.owned_temporary_folder("scratch")
                self.live.host_scratch = self.scratch = self.host_scratch
            if self.unsafe is False or not cgroups.cgroup_problems():
                self.group = cgroups.ControlGroup(self.limits, extra_memory=0 if self.unsafe else self.limits.disk_bytes)
            self.live.group = self.group
        except BaseException:
            self.remove()
            raise

    def remove(self):
        """Removes what ``prepare`` made (the run did not start)."""
        if self.group is not None:
            self.group.remove()
        if self.host_scratch is not None:
            registry.remove_tree(self.host_scratch)

    def command(self, argv, readonly, environment):
        """``argv`` in bubblewrap (not with ``--unsafe``), under ``prlimit``, joining the
        control group before it starts."""
        inner = list(argv) if self.unsafe else bwrap_command(argv, list(readonly) + python_installation(), environment,
                                                             self.limits)
        inner = ["prlimit", "--core=0", f"--fsize={self.limits.largest_file_bytes}", "--"] + inner
        if self.group is not None:
            joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in self.group.procs_files())
            inner = ["/bin/sh", "-c", f"{joins} && exec \"$@\"", "sh"] + inner
        return inner

    def start(self, argv, readonly, env):
        """Starts the command with a results pipe of its own; ``Interrupted`` when grading was
        interrupted before it started."""
        results_read, results_write = os.pipe()
        try:
            environment = clean_environment(self.scratch, {**(env or {}), "AUTOGRADER_RESULTS_FD": str(results_write)})
            command = self.command(argv, readonly, environment)
            self.start_time = time.perf_counter()
            if self.live.is_aborted():
                raise registry.Interrupted("grading was interrupted; this run did not start")
            process = subprocess.Popen(command, cwd=self.scratch if self.unsafe else "/", stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=[results_write],
                                       env=environment if self.unsafe else {"PATH": "/usr/bin:/bin"},
                                       start_new_session=True)
        except BaseException:
            os.close(results_read)
            self.remove()
            raise
        finally:
            os.close(results_write)
        self.process, self.results_read = process, results_read
        if self.live.started(process):      # interrupt() came between the check and the start
            registry.kill(process, self.group)

    def stop(self, reason):
        if not self.killed_for:
            self.killed_for.append(reason)
        registry.kill(self.process, self.group)

    def converse(self, stdin):
        """Feeds the standard input (bytes, or a responder's answers to the results so far),
        reads the three pipes up to their bounds until the end or a limit, then cleans up;
        a watchdog kills the run a little after its time should this loop itself get stuck."""
        process = self.process
        stdin_fd = os.dup(process.stdin.fileno())
        process.stdin.close()
        responder = None if isinstance(stdin, (bytes, bytearray)) else stdin
        feed = Feed(stdin_fd, bytes(stdin) if responder is None else responder.initial)
        if responder is None:
            feed.put(None)
        watchdog = threading.Timer(self.limits.wall_seconds + 30, lambda: self.stop("timeout"))
        watchdog.daemon = True
        watchdog.start()
        self.streams = [Stream(process.stdout.fileno(), self.limits.output_bytes, "stdout"),
                        Stream(process.stderr.fileno(), self.limits.output_bytes, "stderr"),
                        Stream(self.results_read, self.limits.result_bytes, "results")]
        selector = selectors.DefaultSelector()
        for stream in self.streams:
            selector.register(stream.fd, selectors.EVENT_READ, stream)
        try:
            self.read_until_the_end(selector, responder, feed)
            self.wait()
        finally:
            watchdog.cancel()
            feed.put(None)
            registry.kill(process, self.group)
            selector.close()
            self.clean_up()

    def read_until_the_end(self, selector, responder, feed):
        """Reads every pipe until all are closed: the run is stopped at its deadline or when
        it prints too much, and gets 2 s to close them once its main process ended."""
        process, group = self.process, self.group
        deadline = self.start_time + self.limits.wall_seconds
        drain_until = None
        while selector.get_map():
            now = time.perf_counter()
            if process.poll() is not None and drain_until is None:
                registry.kill(process, group)             # what the notebook left running dies with it
                drain_until = now + 2.0
            limit_at = drain_until if drain_until is not None else deadline
            if now >= limit_at:
                if drain_until is None:
                    self.stop("timeout")
                    drain_until = time.perf_counter() + 2.0
                    continue
                break
            for key, _ in selector.select(timeout=min(0.25, max(limit_at - now, 0.001))):
                stream = key.data
                if not stream.read():
                    selector.unregister(stream.fd)
                elif stream.overflowed and not self.killed_for:
                    self.stop("output-limit")
                elif responder is not None and stream is self.streams[2]:
                    answer = responder.respond(stream.kept)
                    if answer:
                        feed.put(answer)
                    elif answer is None:
                        feed.put(None)
                        responder = None

    def wait(self):
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.stop("timeout")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass         # not reaped in time: reported as a timeout all the same

    def clean_up(self):
        """Closes the pipes, reads what the control group saw (out of memory, a refused
        fork), removes it and the host scratch folder."""
        group, host_scratch = self.group, self.host_scratch
        for closing in (self.process.stdout, self.process.stderr):
            closing.close()
        os.close(self.results_read)
        self.out_of_memory = group is not None and group.out_of_memory()
        self.too_many_processes = group is not None and group.hit_process_limit()
        if group is not None:
            group.remove()
        if host_scratch is not None:
            if group is None:
                registry.kill_by_environment(host_scratch)    # what it left running in sessions of its own
            registry.remove_tree(host_scratch)

    def result(self):
        """The ``RunResult``; ``Interrupted`` when grading was interrupted while it ran."""
        if self.live.is_aborted():
            raise registry.Interrupted("grading was interrupted; this run was stopped")
        seconds = time.perf_counter() - self.start_time
        code = self.process.returncode
        status = run_status(self.killed_for, self.out_of_memory, self.too_many_processes, code)
        stdout, stderr, results = self.streams
        return RunResult(status, code, bytes(stdout.kept), bytes(stderr.kept), seconds, self.too_many_processes,
                         bytes(results.kept), results.overflowed)


def run_status(killed_for, out_of_memory, too_many_processes, code):
    """What ended a run: what this side stopped it for, else running out of memory (with a
    non-zero exit), a clean exit, a refused fork, any other end."""
    if killed_for:
        return killed_for[0]
    if out_of_memory and code != 0:
        return "memory"
    if code == 0:
        return "ok"
    if too_many_processes:
        return "process-limit"
    return "crashed"
