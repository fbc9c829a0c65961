"""The batch around the stages (autograder.course): a submission that raises or never
finishes costs that submission, with a status saying so; the batch goes on."""
import threading
import time

from autograder.course import run_with_deadlines


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
