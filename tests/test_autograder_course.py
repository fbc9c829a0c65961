"""The batch around the stages (autograder.batch): a submission that raises or never
finishes costs that submission, with a status saying so; the batch goes on."""
import threading
import time

import pytest

from autograder.batch import run_with_deadlines


def test_a_stuck_or_failing_submission_gets_a_status_and_the_batch_finishes():
    release = threading.Event()

    def work(i):
        if i == 1:
            release.wait(60)                # our own bug: never returns in time
        if i == 2:
            raise RuntimeError("a bug of ours")
        return f"graded {i}", None

    start = time.monotonic()
    out = {i: result for i, result, _ in run_with_deadlines(work, [0, 1, 2, 3], 2, 1.5,
                                                            lambda i, text: f"failed: {text}")}
    release.set()
    assert time.monotonic() - start < 20
    assert out[0] == "graded 0" and out[3] == "graded 3"
    assert out[1].startswith("failed: grading this submission did not finish within 1.5 s")
    assert out[2] == "failed: grading failed (RuntimeError: a bug of ours)"


def test_every_item_is_yielded_once_in_parallel():
    seen = [i for i, _, _ in run_with_deadlines(lambda i: (i, None), list(range(20)), 3, 30, None)]
    assert sorted(seen) == list(range(20))


def test_on_start_runs_while_the_first_items_run():
    events = []

    def work(i):
        time.sleep(0.3)
        events.append(f"done {i}")
        return i, None

    results = list(run_with_deadlines(work, [0], jobs=1, deadline=10, failed=lambda i, t: t,
                                      on_start=lambda: events.append("on_start")))
    assert [r[0] for r in results] == [0]
    assert events == ["on_start", "done 0"]


@pytest.mark.slow
def test_an_assignment_missing_from_the_gradebook_is_released_before_the_first_grade(tmp_path):
    """The release notebooks are there but the gradebook lost the assignment: grading
    checks the gradebook while the first submission runs and releases it again."""
    from autograder.cli import main as autograder
    from grading_helpers import SANDBOX_FLAGS, new_course, submit

    course = new_course(tmp_path / "course")
    with course.gradebook() as gb:
        gb.remove_assignment("scans")
    submit(tmp_path / "submitted", "ada", "scans", course.release_notebook("scans"))
    assert autograder(["--course", str(course.root), "grade", str(tmp_path / "submitted"), "--quiet"]
                      + SANDBOX_FLAGS) == 0
    with course.gradebook() as gb:
        assert gb.find_submission("scans", "ada").score == 0
