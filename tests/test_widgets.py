"""lectlib.widgets: precomputed frames, sliders linked in the browser to the right stacks;
no global matplotlib state changed; alt text, readable text and sliders that fit a phone."""
import base64
import html
import re
import subprocess
import sys

import ipywidgets
import matplotlib.pyplot as plt
import pytest

from lectlib import widgets


def render(**values):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title(repr(sorted(values.items())))
    return fig


def frame_png(frame):
    """The PNG bytes inside one frame's ``<img>``."""
    assert isinstance(frame, ipywidgets.HTML), frame
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', frame.value)
    return base64.b64decode(data)


def frame_alt(frame):
    (alt,) = re.findall(r'<img [^>]*alt="([^"]*)"', frame.value)
    return html.unescape(alt)


def links_from(box, slider):
    """The browser-side links whose source is ``slider``'s index."""
    return [link for link in box.slider_links if link.source == (slider, "index")]


def test_one_parameter_has_one_frame_per_value_and_a_linked_slider():
    calls = []

    def counting(gamma):
        calls.append(gamma)
        return render(gamma=gamma)

    box = widgets.interactive_figure(counting, gamma=[0.5, 0.9, 0.99])
    slider, stack = box.children
    assert calls == [0.5, 0.9, 0.99]
    assert isinstance(stack, ipywidgets.Stack) and len(stack.children) == 3
    assert all(frame_png(frame)[:4] == b"\x89PNG" for frame in stack.children)
    assert slider.options == ("0.5", "0.9", "0.99")
    (link,) = links_from(box, slider)
    assert link.target == (stack, "selected_index")
    assert "lectlib-interactive-figure" in box._dom_classes


def test_two_parameters_nest_stacks_and_link_the_second_slider_to_every_inner_stack():
    box = widgets.interactive_figure(render, radius=[0.5, 1.0], nonlinearity=["linear", "tanh", "relu"])
    outer_slider, inner_slider, outer = box.children
    assert len(outer.children) == 2 and all(len(inner.children) == 3 for inner in outer.children)
    assert [link.target for link in links_from(box, outer_slider)] == [(outer, "selected_index")]
    assert {id(link.target[0]) for link in links_from(box, inner_slider)} == {id(inner) for inner in outer.children}


def test_frames_differ_with_the_parameter():
    box = widgets.interactive_figure(render, n=[1, 2])
    first, second = box.children[1].children
    assert frame_png(first) != frame_png(second)


@pytest.mark.parametrize("grids, message", [
    ({}, "one or two"),
    ({"a": [1, 2], "b": [1, 2], "c": [1, 2]}, "one or two"),
    ({"a": [1]}, "at least two"),
    ({"a": "abc"}, "at least two"),
    ({"a": list(range(20)), "b": list(range(11))}, "too many"),
])
def test_bad_grids_are_rejected_before_rendering(grids, message):
    with pytest.raises(ValueError, match=message):
        widgets.interactive_figure(lambda **_: pytest.fail("rendered a bad grid"), **grids)


# --- no global state -------------------------------------------------------------------

NO_GLOBAL_STATE = r"""
import matplotlib
import matplotlib.pyplot as plt
before_backend = matplotlib.get_backend()
kept = plt.figure()                       # a figure the page made before the widget
before_rc = dict(matplotlib.rcParams)
from lectlib import widgets

def with_pyplot(n):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(range(n))
    return fig

def without_pyplot(n):
    fig, ax = widgets.new_figure(figsize=(3, 2))
    ax.plot(range(n))
    return fig

widgets.interactive_figure(with_pyplot, n=[2, 3])
widgets.interactive_figure(without_pyplot, n=[2, 3])
assert matplotlib.get_backend() == before_backend, (before_backend, matplotlib.get_backend())
assert plt.get_fignums() == [kept.number], plt.get_fignums()
changed = {k for k, v in matplotlib.rcParams.items() if before_rc.get(k) != v}
assert not changed, changed
print("unchanged", before_backend)
"""


def test_widgets_leave_the_backend_pyplot_figures_and_rcparams_unchanged():
    # A fresh interpreter with a backend that is not Agg (as Jupyter's inline backend is
    # not): switching to Agg, as widgets once did, silenced every later inline figure.
    result = subprocess.run([sys.executable, "-c", NO_GLOBAL_STATE], capture_output=True, text=True,
                            env={"MPLBACKEND": "svg", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "unchanged svg" in result.stdout


def test_a_figure_made_without_pyplot_never_reaches_pyplot():
    before = plt.get_fignums()
    fig, axes = widgets.new_figure(figsize=(2, 1), ncols=2)
    assert len(axes) == 2 and fig.canvas.manager is None
    assert widgets.figure_to_png(fig)[:4] == b"\x89PNG"
    assert plt.get_fignums() == before


def test_render_must_return_a_figure():
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        widgets.interactive_figure(lambda n: None, n=[1, 2])


# --- accessibility and phones -------------------------------------------------------------

def labelled(title, legend=None, fontsize=8, width=7):
    def render(gamma):
        fig, (left, right) = widgets.new_figure(figsize=(width, 2.6), ncols=2)
        left.plot([0, 1], label=legend)
        left.set_title(title, fontsize=fontsize)
        left.set_xlabel("step $t$", fontsize=fontsize)
        if legend:
            left.legend(fontsize=fontsize)
        right.text(0.5, 0.5, "in a box", fontsize=5)        # a drawing's label, data coordinates
        fig.suptitle(f"$\\gamma$ = {gamma}", fontsize=fontsize)
        fig.tight_layout()
        return fig
    return render


def test_every_frame_has_alt_text_naming_what_it_shows_and_its_values():
    box = widgets.interactive_figure(labelled("memory of one input", legend=r"state $h_t$"), gamma=[0.5, 0.99])
    first, second = box.children[-1].children
    assert frame_alt(first) == ("Interactive figure, gamma = 0.5: γ = 0.5; memory of one input "
                                "(x axis step t; legend: state h_t)")
    assert "gamma = 0.99" in frame_alt(second) and "γ = 0.99" in frame_alt(second)


def test_alt_text_given_by_the_page_wins():
    box = widgets.interactive_figure(labelled("x"), alt=lambda gamma: f"decay curves for {gamma}", gamma=[0.5, 0.9])
    assert frame_alt(box.children[-1].children[1]) == "Interactive figure, gamma = 0.9: decay curves for 0.9"
    box = widgets.interactive_figure(labelled("x"), alt="decay curves", gamma=[0.5, 0.9])
    assert frame_alt(box.children[-1].children[0]) == "Interactive figure, gamma = 0.5: decay curves"


def test_plain_text_turns_mathtext_into_words():
    assert widgets.plain_text(r"scale $\theta_1$, $\gamma^{k}$") == "scale θ_1, γ^k"


@pytest.mark.parametrize("width", [3.0, 5.5, 7.0, 9.0])
def test_text_is_at_least_the_minimum_size_on_a_phone(width):
    fig = labelled("a title", legend="a line", fontsize=6, width=width)(gamma=0.5)
    # Before: 6 pt text on a figure as wide as 7 in is under 5 px on a phone.
    small = [t for t in widgets.readable_texts(fig) if widgets.text_px_on_phone(fig, t, 80) < 9.99]
    assert small or width < 4
    widgets.make_text_readable(fig, dpi=80)
    fig.canvas.draw()  # ticks get their labels
    sizes = {t.get_text(): widgets.text_px_on_phone(fig, t, 80) for t in widgets.readable_texts(fig)}
    assert {"a title", "a line", "step $t$", "$\\gamma$ = 0.5"} <= set(sizes)
    assert any(re.fullmatch(r"[0-9.−-]+", name) for name in sizes), "tick labels are checked too"
    assert min(sizes.values()) >= widgets.MIN_TEXT_PX_ON_PHONE - 1e-9, sizes
    # a drawing's label in data coordinates keeps the size its box was drawn for
    (boxed,) = [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and a.get_text() == "in a box")]
    assert boxed.get_fontsize() == 5


def test_sliders_fill_their_column_up_to_a_limit_and_show_the_whole_name():
    box = widgets.interactive_figure(labelled("x"), gamma=[0.5, 0.9])
    slider = box.children[0]
    assert slider.layout.width == "100%" and slider.layout.max_width == widgets.SLIDER_MAX_WIDTH
    assert slider.style.description_width == "initial"
    assert slider.description == "gamma"
