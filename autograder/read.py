"""Stage 1, read: the submissions folder and each submitted notebook, without trusting them.

Everything in the submissions folder came from students: a notebook may be empty, not
JSON, an old format, cut short or edited anywhere, and a file may be a link, a FIFO or a
device. Reading opens every path component below the submissions folder without
following links (``O_NOFOLLOW``, one directory descriptor at a time), opens the file
without blocking, checks that it is a regular file and reads at most a fixed number of
bytes. ``read_submission`` never raises on such input; it returns what it could read and
what was wrong, as a ``Status``.
"""
import dataclasses
import errno
import hashlib
import json
import os
import re
import stat
from pathlib import Path

import nbformat

from autograder.status import Status

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELLS = 20_000
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


@dataclasses.dataclass
class Submission:
    notebook: object | None        # an nbformat v4 NotebookNode, or None when unreadable
    problem: Status | None = None  # why it could not be read (then notebook is None)
    notes: list = dataclasses.field(default_factory=list)   # what was odd but gradable
    digest: str | None = None      # sha256 of the bytes read
    mtime: float | None = None     # when it was submitted: nbgrader's timestamp.txt, else the file's mtime


SECRET_NAME = "submission_secret.txt"   # what nbgrader's exchange leaves beside a submitted notebook


def read_secret(base, notebook_relative):
    """The nbgrader submission secret beside a submitted notebook (``token_hex`` text),
    which ``release_feedback`` needs to hand the feedback back; ``None`` if there is none
    or it is not one."""
    data, _, _ = read_bounded(base, Path(notebook_relative).parent / SECRET_NAME, 1024)
    text = (data or b"").decode("ascii", "replace").strip()
    return text if 0 < len(text) <= 512 and all(c in "0123456789abcdef" for c in text) else None


TIMESTAMP_NAME = "timestamp.txt"        # when nbgrader's exchange received it (submit writes it, collect keeps it)


def read_timestamp(base, notebook_relative):
    """When the submission was handed in, as nbgrader records it: the ``timestamp.txt``
    beside the notebook, in POSIX seconds (a time without a zone is UTC, as in nbgrader's
    ``parse_utc``); ``None`` when there is none or it is not a time. nbgrader's own
    autograde takes the submission time from the same file, so late submissions count as
    late the same way."""
    from dateutil import parser, tz

    data, _, _ = read_bounded(base, Path(notebook_relative).parent / TIMESTAMP_NAME, 200)
    try:
        parsed = parser.parse(data.decode("ascii").strip())
    except (AttributeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz.tzutc())
    return parsed.timestamp()


def read_bounded(base, relative, limit):
    """Reads the file ``base / relative`` where everything below ``base`` is untrusted.

    Returns ``(data, None, mtime)`` or ``(None, problem, None)``: no component of ``relative`` may be a
    link, the file must be a regular file, and at most ``limit`` bytes are read (more is a
    problem). Never blocks on FIFOs or devices."""
    parts = Path(relative).parts
    if not parts or any(p in ("..", "/") for p in parts):
        return None, "not a path inside the submissions folder", None
    fds = []
    try:
        fds.append(os.open(base, _DIRECTORY))
        for part in parts[:-1]:
            fds.append(os.open(part, _DIRECTORY, dir_fd=fds[-1]))
        fd = os.open(parts[-1], _FILE, dir_fd=fds[-1])
        fds.append(fd)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file (a FIFO, device or folder)", None
        if info.st_size > limit:
            return None, f"{info.st_size / 1e6:.0f} MB, more than {limit / 1e6:.0f} MB", None
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, f"more than {limit / 1e6:.0f} MB", None
        return b"".join(chunks), None, info.st_mtime
    except FileNotFoundError:
        return None, "missing", None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):   # a link where O_NOFOLLOW forbids it
            return None, "a link, which grading does not follow", None
        return None, f"cannot be opened ({exc.strerror})", None
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _entries(base, relative=()):
    """``{name: kind}`` of a folder below ``base``, not following links; kind is ``"dir"``,
    ``"file"`` or ``"other"``. ``{}`` when it is not a folder."""
    fds = []
    try:
        fds.append(os.open(base, _DIRECTORY))
        for part in relative:
            fds.append(os.open(part, _DIRECTORY, dir_fd=fds[-1]))
        found = {}
        with os.scandir(fds[-1]) as listing:
            for i, entry in enumerate(listing):
                if i > 10_000:
                    break
                if entry.is_dir(follow_symlinks=False):
                    found[entry.name] = "dir"
                elif entry.is_file(follow_symlinks=False):
                    found[entry.name] = "file"
                else:
                    found[entry.name] = "other"
        return found
    except OSError:
        return {}
    finally:
        for fd in reversed(fds):
            os.close(fd)


@dataclasses.dataclass
class Work:
    """One student's submission of one assignment: ``relative`` is the notebook's path
    below the submissions folder (``None`` when there is none), ``note`` what was odd."""
    student: str
    assignment: str
    relative: Path | None
    note: Status | str | None = None


def find_submissions(submissions, assignments, only=None):
    """A ``Work`` for every student folder and every assignment graded; student folders
    must be real folders named like student ids (others are reported and skipped).

    Returns ``(work, skipped names)``."""
    submissions = Path(submissions)
    top = _entries(submissions)
    students = sorted(name for name, kind in top.items() if kind == "dir" and not name.startswith("."))
    skipped = [s for s in students if not STUDENT_ID.match(s)]
    skipped += sorted(name for name, kind in top.items() if kind == "other" and not name.startswith("."))
    students = [s for s in students if STUDENT_ID.match(s)]
    folders = {s: _entries(submissions, (s,)) for s in students}
    if only is not None:
        chosen = [only]
    else:
        chosen = [a for a in assignments if any(folders[s].get(a) == "dir" for s in students)]
    work = []
    for student in students:
        for assignment in chosen:
            expected = f"{assignment}.ipynb"
            inside = _entries(submissions, (student, assignment)) if folders[student].get(assignment) == "dir" else {}
            if expected in inside:
                work.append(Work(student, assignment, Path(student, assignment, expected)))
                continue
            found = sorted(name for name, kind in inside.items() if name.endswith(".ipynb") and kind == "file")
            if len(found) == 1:
                work.append(Work(student, assignment, Path(student, assignment, found[0]),
                                 f"graded {found[0]} (expected {expected})"))
            elif found:
                work.append(Work(student, assignment, None,
                                 Status("missing", f"expected {expected}, found {', '.join(found)}")))
            else:
                work.append(Work(student, assignment, None, Status("missing", "no notebook was submitted")))
    return work, skipped


def read_submission(base, relative):
    """Reads a submitted notebook without trusting it. Returns a ``Submission``."""
    raw, problem, mtime = read_bounded(base, relative, MAX_NOTEBOOK_BYTES)
    if raw is None:
        if problem == "missing":
            return Submission(None, Status("missing", "no notebook was submitted"))
        return Submission(None, Status("unreadable", f"the notebook file is {problem}"))
    digest = hashlib.sha256(raw).hexdigest()
    submission = parse_notebook(raw)
    submitted = read_timestamp(base, relative)
    submission.digest, submission.mtime = digest, mtime if submitted is None else submitted
    return submission


def parse_notebook(raw):
    """A ``Submission`` from the bytes of a notebook file."""
    if not raw:
        return Submission(None, Status("unreadable", "the notebook file is empty"))
    notes = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        notes.append(f"the file is not valid UTF-8 (byte {exc.start}); bad bytes were replaced")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return Submission(None, Status("unreadable", f"not a notebook (invalid JSON{where})"))
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return Submission(None, Status("unreadable", "JSON, but not a notebook (no cells)"))
    version = data.get("nbformat")
    if version not in (3, 4):
        return Submission(None, Status("unreadable", f"unsupported notebook format {version!r} (expected 4)"))
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many kinds on malformed input
        return Submission(None, Status("unreadable", f"a broken notebook ({type(exc).__name__}: {str(exc)[:200]})"))
    if version == 3:
        notes.append("an old notebook format (3) was converted to 4")
    if len(notebook.cells) > MAX_CELLS:
        return Submission(None, Status("unreadable", f"{len(notebook.cells)} cells, more than {MAX_CELLS}"))
    for cell in notebook.cells:
        if not isinstance(cell.get("source", ""), str) or not isinstance(cell.get("metadata", {}), dict):
            return Submission(None, Status("unreadable", "a cell has a malformed source or metadata"))
    return Submission(notebook, None, notes)


def grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def answers(notebook, answer_ids):
    """``{grade_id: source}`` of the first code cell of each answer (what feedback shows)."""
    found = {}
    for cell in notebook.cells:
        gid = grade_id(cell)
        if gid in answer_ids and gid not in found and cell.get("cell_type") == "code":
            found[gid] = cell.get("source", "")
    return found
