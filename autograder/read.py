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
import stat
import unicodedata
from pathlib import Path

import nbformat

from autograder.status import Status

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELLS = 20_000
MAX_STUDENT_ID = 128      # nbgrader's gradebook keeps ids of up to 128 characters
ID_PUNCTUATION = "_.@-"
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


@dataclasses.dataclass(frozen=True)
class NotGraded:
    """An entry of the submissions folder that grading cannot take: ``name`` is the
    top-level entry as found (a would-be student id, made by whoever made the folder:
    show it only through ``verdict.inert``), ``reason`` the grader's words."""
    name: str
    reason: str


def student_id_problem(name):
    """Why the folder name ``name`` is not taken as a student id, or ``None`` when it is.

    Taken: what nbgrader's exchange hands out as ids (user names, e-mail addresses) in any
    script: letters and digits (``zoë``, ``李雷``; combining accents too), then also
    ``_ . @ -``, up to 128 characters. Refused: a ``+`` (nbgrader's exchange splits names
    on it), glob characters (nbgrader's ``--student`` is a glob), spaces (nbgrader strips
    them around an id; shells split on them), a first character a spreadsheet evaluates
    (``= + - @``), control characters."""
    if len(name) > MAX_STUDENT_ID:
        return f"the name is longer than the {MAX_STUDENT_ID} characters nbgrader's gradebook keeps"
    if not _letter_or_digit(name[:1]):
        return "the name does not start with a letter or digit, so it is not a student id"
    odd = sorted({c for c in name if not (_letter_or_digit(c) or _mark(c) or c in ID_PUNCTUATION)})
    if odd:
        return (f"the name is not a student id: it holds {_characters(odd)} (ids are letters and digits, "
                f"with {' '.join(ID_PUNCTUATION)})")
    return None


def _letter_or_digit(character):
    if len(character) != 1:
        return False
    category = unicodedata.category(character)
    return category[0] == "L" or category == "Nd"


def _mark(character):
    return unicodedata.category(character)[0] == "M"


def _characters(found):
    """The characters ``found`` named in words where they are invisible or confusing."""
    named = {" ": "a space", "+": "a +", "*": "a *", "?": "a ?", "[": "a [", "]": "a ]"}
    words = [named.get(c) or (f"U+{ord(c):04X}" if not c.isprintable() else repr(c)) for c in found[:5]]
    return ", ".join(words) + (" and more" if len(found) > 5 else "")


def find_submissions(submissions, assignments, only=None):
    """A ``Work`` for every student folder and every assignment graded (``only``, or each
    of ``assignments`` that some student has a folder for), and a ``NotGraded`` for every
    entry that cannot be graded, with the reason: a folder not named like a student id
    (``student_id_problem``), a link, FIFO or device, a student's folder that holds a
    folder that is not one of ``assignments``. Files at the top and names starting with a
    dot (``.ipynb_checkpoints``) are not submissions and are left alone.

    Returns ``(work, not_graded)``."""
    submissions = Path(submissions)
    top = {name: kind for name, kind in _entries(submissions).items() if not name.startswith(".")}
    not_graded = [NotGraded(name, "a link, FIFO or device, not a folder; grading does not follow or open it")
                  for name, kind in sorted(top.items()) if kind == "other"]
    students = []
    for name in sorted(name for name, kind in top.items() if kind == "dir"):
        problem = student_id_problem(name)
        if problem:
            not_graded.append(NotGraded(name, problem))
        else:
            students.append(name)
    folders = {s: _entries(submissions, (s,)) for s in students}
    if only is not None:
        chosen = [only]
    else:
        chosen = [a for a in assignments if any(folders[s].get(a) == "dir" for s in students)]
    work = []
    for student in students:
        strays = sorted(name for name, kind in folders[student].items()
                        if kind == "dir" and name not in assignments and not name.startswith("."))
        for stray in strays:
            not_graded.append(NotGraded(student, f"the folder {student}/{stray} is not one of the course's "
                                                 f"assignments ({', '.join(assignments)})"))
        if not chosen and not strays:
            not_graded.append(NotGraded(student, "the folder holds no assignment's folder"))
        for assignment in chosen:
            work.append(_work(submissions, student, assignment, folders[student].get(assignment)))
    return work, not_graded


def _work(submissions, student, assignment, kind):
    """The ``Work`` of one student and assignment; ``kind`` is what the student's folder
    holds under the assignment's name (``None``, ``"dir"``, ``"file"``, ``"other"``)."""
    expected = f"{assignment}.ipynb"
    if kind in ("file", "other"):
        return Work(student, assignment, None,
                    Status("missing", f"{student}/{assignment} is a file or a link, not a folder (links are not "
                                      f"followed)"))
    inside = _entries(submissions, (student, assignment)) if kind == "dir" else {}
    if expected in inside:
        return Work(student, assignment, Path(student, assignment, expected))
    found = sorted(name for name, kind in inside.items() if name.endswith(".ipynb") and kind == "file")
    if len(found) == 1:
        return Work(student, assignment, Path(student, assignment, found[0]),
                    f"graded {found[0]} (expected {expected})")
    if found:
        return Work(student, assignment, None, Status("missing", f"expected {expected}, found {', '.join(found)}"))
    return Work(student, assignment, None, Status("missing", "no notebook was submitted"))


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
