"""Owners: control groups and host scratch folders are named after the grader that made
them (its pid and start time), so that what a grader killed outright left behind can be
told from what a running grader owns (``live.remove_stale``)."""
import os
import re
import tempfile
from pathlib import Path


def start_time(pid):
    """The start time of process ``pid`` (clock ticks since boot), ``None`` if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner():
    """This process as the owner of control groups and scratch folders: ``<pid>-<start time>``."""
    pid = os.getpid()
    return f"{pid}-{start_time(pid)}"


def owner_alive(pid, start):
    """Whether the owner ``<pid>-<start time>`` (the two parts, as text) still runs."""
    return start_time(int(pid)) == start


def owned_temporary_folder(label):
    """A new host temporary folder named after this process (``autograder-unsafe-<owner>-<label>-*``),
    so that ``remove_stale`` removes it should this process be killed before removing it."""
    return Path(tempfile.mkdtemp(prefix=f"{UNSAFE_PREFIX}{owner()}-{label}-"))


CGROUP_NAME = re.compile(r"^autograder-(\d+)-(\d+)-[0-9a-f]+$")
OLD_CGROUP_NAME = re.compile(r"^autograder-[0-9a-f]{12}$")     # before names carried their owner
UNSAFE_PREFIX = "autograder-unsafe-"
UNSAFE_NAME = re.compile(r"^autograder-unsafe-(\d+)-(\d+)-")
ORPHAN_SECONDS = 900    # an empty control group of unknown owner this old is debris
