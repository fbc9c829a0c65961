"""The bubblewrap command: new user, PID, network, IPC, UTS and mount namespaces, no
capabilities, uid/gid 65534, a read-only file system holding only what the caller binds
and the Python installation, and a size-limited tmpfs for the scratch folder; whether
this machine can set it up at all."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.sandbox.cgroups import cgroup_problems


def python_installation():
    """Folders the interpreter needs: its installation and the virtual environment."""
    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(folders)


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
