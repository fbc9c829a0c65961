"""One submission through the stages (autograder.pipeline): a submission with no notebook,
or one that cannot be read, gets no points and a status that says why, without running
anything. A notebook that runs goes through every stage in tests/test_grading.py."""
import types
from pathlib import Path

from autograder import checks, pipeline
from autograder.read import Work
from autograder.status import Status


def context(assignment="scans"):
    return types.SimpleNamespace(checks=checks.load(assignment))


def test_no_notebook_is_no_points_and_says_so(tmp_path):
    ctx = context()
    result, mtime = pipeline.grade_submission(Work("ada", "scans", None), tmp_path, ctx, None, unsafe=False)
    assert mtime is None and result.status.kind == "missing"
    assert result.score == 0 and result.max_score == sum(c.points for c in ctx.checks.values())
    assert [c.points for c in result.checks] == [0.0] * len(ctx.checks)
    ambiguous = Status("missing", "expected scans.ipynb, found a.ipynb, b.ipynb")
    result, _ = pipeline.grade_submission(Work("cy", "scans", None, ambiguous), tmp_path, ctx, None, unsafe=False)
    assert result.status is ambiguous


def test_an_unreadable_notebook_is_no_points_with_its_name_and_digest(tmp_path):
    (tmp_path / "bob" / "scans").mkdir(parents=True)
    (tmp_path / "bob" / "scans" / "scans.ipynb").write_bytes(b"{ not json")
    item = Work("bob", "scans", Path("bob", "scans", "scans.ipynb"))
    result, mtime = pipeline.grade_submission(item, tmp_path, context(), None, unsafe=False)
    assert result.status.kind == "unreadable" and result.score == 0
    assert result.notebook_name == "scans.ipynb" and len(result.digest) == 64 and mtime > 0
