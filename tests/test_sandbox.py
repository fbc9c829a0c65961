"""The grading sandbox on its own: isolation, limits, and what it reports."""
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import Limits, run_sandboxed

from grading_helpers import NO_SANDBOX, SANDBOX_PROBLEMS

pytestmark = pytest.mark.slow
needs_sandbox = pytest.mark.skipif(bool(SANDBOX_PROBLEMS), reason=NO_SANDBOX)


@pytest.fixture
def scratch(tmp_path):
    """A folder on the host beside a secret the sandbox must not see (the sandbox's own
    scratch folder is a tmpfs inside it)."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "answer.txt").write_text("the secret answer")
    return folder


def run(code, stdin=b"", **limits):
    return run_sandboxed([sys.executable, "-c", textwrap.dedent(code)], readonly=[], stdin=stdin,
                         limits=Limits(**{"wall_seconds": 30, **limits}))


@needs_sandbox
def test_the_sandbox_can_be_set_up_here():
    assert sandbox.sandbox_problems() == []


@needs_sandbox
def test_a_plain_run_returns_its_output():
    result = run("print('hello')")
    assert (result.status, result.returncode, result.stdout) == ("ok", 0, b"hello\n")


@needs_sandbox
def test_no_network():
    result = run("""
        import socket
        for address in [("127.0.0.1", 22), ("1.1.1.1", 53)]:
            try:
                socket.create_connection(address, timeout=2)
                print("connected", address)
            except OSError as error:
                print("refused", error.errno)
    """)
    assert b"connected" not in result.stdout and result.stdout.count(b"refused") == 2


@needs_sandbox
def test_only_the_scratch_folder_is_writable_and_nothing_else_is_visible(scratch):
    (Path("/tmp") / f"visible-{os.getpid()}").write_text("the host's /tmp")
    result = run(f"""
        import os
        open("mine.txt", "w").write("ok")
        print("mine", open("mine.txt").read(), os.getcwd())
        print("sibling", os.path.exists({str(scratch.parent / 'solutions')!r}))
        print("root", os.path.exists("/root/.bashrc") or os.path.exists("/root/.pyenv/shims"))
        print("tmp", os.path.exists({str(Path("/tmp") / ("visible-" + str(os.getpid())))!r}))
        for target in ["/usr/evil", "/evil", {str(Path(sys.executable).parent / 'evil')!r}]:
            try:
                open(target, "w")
                print("wrote", target)
            except OSError:
                pass
    """)
    assert result.status == "ok", result.stderr
    assert b"mine ok /tmp/scratch" in result.stdout and not (scratch / "mine.txt").exists()
    assert b"sibling False" in result.stdout and b"root False" in result.stdout and b"tmp False" in result.stdout
    assert b"wrote" not in result.stdout


@needs_sandbox
def test_runs_as_nobody_without_capabilities():
    result = run("""
        import os
        status = open("/proc/self/status").read()
        print(os.getuid(), os.getgid(), status.split("CapEff:")[1].split()[0])
    """)
    assert result.stdout.split() == [b"65534", b"65534", b"0000000000000000"]


@needs_sandbox
def test_a_memory_bomb_is_stopped():
    result = run("""
        chunks = []
        while True:
            chunks.append(b"x" * 2**26)
    """, memory_bytes=256 * 2**20, disk_bytes=64 * 2**20)
    assert result.status == "memory"


@needs_sandbox
def test_a_fork_bomb_is_contained_and_nothing_is_left():
    marker = f"forkbomb-{os.getpid()}-{time.time_ns()}"
    start = time.perf_counter()
    result = run(f"""
        import os, time
        os.environ["MARK"] = {marker!r}
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    """, wall_seconds=5, pids=32)
    assert result.status == "timeout" and result.hit_process_limit
    assert time.perf_counter() - start < 20
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert leftovers == []


@needs_sandbox
@pytest.mark.parametrize("code", ["while True: pass", "import time; time.sleep(1000)"])
def test_endless_runs_time_out(code):
    start = time.perf_counter()
    result = run(code, wall_seconds=2)
    assert result.status == "timeout"
    assert time.perf_counter() - start < 6


@needs_sandbox
def test_a_daemonized_child_dies_with_the_run():
    marker = f"daemon-{os.getpid()}-{time.time_ns()}"
    result = run(f"""
        import os, time, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                sys.argv = [{marker!r}]
                time.sleep(1000)
            os._exit(0)
        print("parent done")
    """)
    assert result.status == "ok"
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).stdout == b""


@needs_sandbox
def test_gigabytes_of_output_are_cut():
    result = run("import sys\nwhile True: sys.stdout.write('x' * 2**20)", output_bytes=4096)
    assert result.status == "output-limit" and len(result.stdout) == 4096


@needs_sandbox
def test_a_segfault_and_an_exit_code_are_crashes():
    segfault = run("import ctypes; ctypes.string_at(0)")
    assert segfault.status == "crashed" and segfault.returncode in (-11, 139)
    exited = run("import os; os._exit(3)")
    assert (exited.status, exited.returncode) == ("crashed", 3)


@needs_sandbox
def test_jax_works_inside_with_the_default_limits():
    result = run_sandboxed([sys.executable, "-c", "import jax.numpy as jnp; print(float(jnp.ones(3).sum()))"],
                           readonly=[], limits=Limits(wall_seconds=60))
    assert result.status == "ok" and result.stdout == b"3.0\n", result.stderr


@needs_sandbox
def test_two_runs_at_once_do_not_interfere():
    results = {}

    def work(name):
        results[name] = run(f"import time; open('who', 'w').write({name!r}); time.sleep(1); print(open('who').read())")

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["a"].stdout == b"a\n" and results["b"].stdout == b"b\n"


@needs_sandbox
def test_the_scratch_folder_is_a_size_limited_tmpfs_and_nothing_else_is_writable():
    result = run("""
        import errno, os
        written = 0
        try:
            with open("big", "wb") as handle:
                while True:
                    handle.write(b"x" * 2**20)
                    handle.flush()
                    written += 1
        except OSError as error:
            print("stopped", error.errno == errno.ENOSPC, written)
        for place in ["/", "/etc", "/home"]:
            try:
                open(os.path.join(place, "f"), "w")
                print("wrote", place)
            except OSError:
                pass
        stats = os.statvfs("/dev/shm")
        print("shm", stats.f_blocks * stats.f_frsize <= 16 * 2**20)
    """, disk_bytes=32 * 2**20)
    assert result.status == "ok", result.stderr
    words = result.stdout.split()
    assert words[:2] == [b"stopped", b"True"] and 28 <= int(words[2]) <= 32
    assert b"wrote" not in result.stdout and b"shm True" in result.stdout


@needs_sandbox
def test_the_input_arrives_on_stdin_and_results_leave_on_their_own_bounded_pipe():
    echo = run("""
        import os, sys
        os.write(int(os.environ["AUTOGRADER_RESULTS_FD"]), sys.stdin.buffer.read()[::-1])
        print("printed")
    """, stdin=b"plan")
    assert (echo.status, echo.results, echo.stdout) == ("ok", b"nalp", b"printed\n")
    flood = run("""
        import os
        while True:
            os.write(int(os.environ["AUTOGRADER_RESULTS_FD"]), b"x" * 65536)
    """, result_bytes=2**20)
    assert flood.status == "output-limit" and flood.results_overflowed and len(flood.results) == 2**20


@needs_sandbox
def test_a_child_that_keeps_the_results_pipe_open_does_not_hold_up_the_run():
    start = time.perf_counter()
    result = run("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(1000)
        os.write(int(os.environ["AUTOGRADER_RESULTS_FD"]), b"done")
    """)
    assert result.status == "ok" and result.results == b"done" and time.perf_counter() - start < 15


@needs_sandbox
def test_a_million_files_in_scratch_vanish_with_the_run():
    """Nothing on the trusted side walks the scratch folder: it is a tmpfs in the sandbox's
    own mount namespace, gone when the run ends (about 6 s here, mostly creating them)."""
    result = run("""
        import os
        for i in range(1_000_000):
            os.close(os.open(f"f{i}", os.O_CREAT | os.O_WRONLY))
        print(len(os.listdir(".")))
    """, wall_seconds=120, disk_bytes=64 * 2**20)
    assert result.status == "ok" and result.stdout == b"1000000\n", result.stderr


def test_a_missing_bubblewrap_is_named(monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    problems = sandbox.sandbox_problems()
    assert any("bubblewrap is not installed" in p and "make setup" in p for p in problems)
