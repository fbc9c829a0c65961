"""Typed verdicts (autograder.verdict, judge.CheckResult, status.Status): every kind a
student can be shown renders from trusted data only, and text from the sandbox cannot be
rendered at all."""
import jinja2
import numpy as np
import pytest

from autograder import judge
from autograder.status import KINDS, NOTE_WORDS, Note, Status
from autograder.verdict import BUILTIN_EXCEPTIONS, CASE_WORDS, CaseKind, CaseVerdict, InstructorText, Untrusted, \
    UntrustedTextError, exception_name, inert, mismatch

MARKER = "ZX-PLANT-7Q 271828"


@pytest.mark.parametrize("render", [
    str, repr, lambda t: f"{t}", lambda t: "%s" % t, lambda t: "{}".format(t), lambda t: "".join([t]),
    lambda t: jinja2.Template("{{ t }}").render(t=t), lambda t: jinja2.Template("{{ t|e }}", autoescape=True).render(t=t),
])
def test_untrusted_text_cannot_be_rendered(render):
    text = Untrusted(MARKER)
    try:
        shown = render(text)
    except (UntrustedTextError, TypeError):
        return
    assert "ZX-PLANT" not in shown and "271828" not in shown


def test_the_instructor_sees_it_cut_marked_and_inert():
    shown = Untrusted("=HYPERLINK(\"x\")" + "y" * 1000).for_instructor()
    assert shown.startswith("[submission's text] =HYPERLINK") and shown.endswith("…") and len(shown) < 160
    assert InstructorText("-1 is odd").for_instructor() == "'-1 is odd"
    assert inert("@x") == "'@x" and inert("\tx") == " x" and inert("\r=1") == " =1"
    assert inert("a\nb\x1bc") == "a b c"


@pytest.mark.parametrize("kind", list(CaseKind))
@pytest.mark.parametrize("hidden", [True, False])
def test_every_case_kind_renders_label_and_fixed_words_only(kind, hidden):
    exception = "ValueError" if kind is CaseKind.RAISED else None
    expected = None if hidden else "result should have shape (2,)"
    verdict = CaseVerdict("T = 1", hidden, kind, exception, expected, Untrusted(MARKER))
    text = verdict.student_text()
    assert "ZX-PLANT" not in text and "271828" not in text
    assert text.startswith(f"{'hidden' if hidden else 'visible'} case 'T = 1': ")
    assert CaseVerdict.from_json(verdict.to_json()) == verdict
    assert MARKER in verdict.instructor_text()


def test_a_verdict_refuses_untyped_parts():
    with pytest.raises(ValueError):
        CaseVerdict("T = 1", True, CaseKind.RAISED, exception="the result is 271828")
    with pytest.raises(ValueError):
        CaseVerdict("T = 1", True, CaseKind.WRONG_SHAPE, expected="anything")       # hidden: no detail
    with pytest.raises(TypeError):
        CaseVerdict("T = 1", True, CaseKind.RAISED, detail=MARKER)                  # detail must be Untrusted
    with pytest.raises(ValueError):
        CaseVerdict("T = 1", True, "leaked 271828")
    assert exception_name("KeyError") == "KeyError" and exception_name("MyError") is None
    assert "ZeroDivisionError" in BUILTIN_EXCEPTIONS and set(CASE_WORDS) == set(CaseKind)


def test_a_check_result_renders_rules_and_unrun_checks_in_fixed_words():
    broken = judge.CheckResult("g", "elman_backward", 0, 4, rules=("no-autodiff",), detail=f"uses {MARKER}")
    assert broken.student_text().startswith("not judged: broke the rule '")
    assert "271828" not in broken.student_text() and "271828" in broken.message
    for kind in KINDS:
        text = judge.CheckResult("g", "f", 0, 1, not_run=kind).student_text()
        assert text.startswith("not graded: ") and not any(ch.isdigit() for ch in text)
    restored = judge.CheckResult.from_json(broken.to_json())
    assert restored.rules == broken.rules and restored.message == broken.message


@pytest.mark.parametrize("kind", KINDS)
def test_every_status_kind_and_note_renders_fixed_words(kind):
    status = Status(kind, f"detail {MARKER}", [Note(n, f"note {MARKER}") for n in NOTE_WORDS])
    text = status.student_text()
    assert "ZX-PLANT" not in text and not any(ch.isdigit() for ch in text)
    assert MARKER in status.text()
    assert Status.from_json(status.to_json()).student_text() == text


def test_mismatch_never_describes_the_received_value():
    received = {f"k{i}-{MARKER}": np.zeros((0, 271828)) for i in range(3)}
    kind, words = mismatch(received, {"W": np.ones(2)}, 1e-5, 1e-6)
    assert kind is CaseKind.WRONG_TYPE and "271828" not in words and "ZX" not in words
    kind, words = mismatch(np.zeros((0, 271828)), np.ones(2), 1e-5, 1e-6)
    assert kind is CaseKind.WRONG_SHAPE and "271828" not in words
