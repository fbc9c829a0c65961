"""lectlib.widgets: precomputed frames, sliders linked in the browser to the right stacks;
no global matplotlib state changed; alt text, readable text and sliders that fit a phone."""
import base64
import html
import io
import re
import subprocess
import sys

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

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
    # chapter 7's gradient norm: no TeX left for a screen reader to spell out
    assert widgets.plain_text(r"$\|\partial h_T / \partial h_{T-k}\|$") == "‖∂h_T / ∂h_T-k‖"


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
    # a name of two words is read as two words, not "units underscore updated"
    box = widgets.interactive_figure(lambda units_updated: labelled("x")(gamma=0.5), units_updated=[0, 16])
    assert box.children[0].description == "units updated"
    assert frame_alt(box.children[-1].children[1]).startswith("Interactive figure, units updated = 16: ")


# --- static (inline) figures on a phone ----------------------------------------------------

def png_width(png):
    """The image's width, read by Pillow (not by the code under test)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.size[0]


def static_figure(width, fontsize=6, drawing_fontsize=None):
    """A pyplot figure as a chapter makes one: two panels, small text, a legend outside
    the axes (the rendered image is wider than the figure), optionally a drawing's label."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(width, 2.4))
    left.plot([0, 1], label="a line")
    left.set_title("a title", fontsize=fontsize)
    left.set_xlabel("step $t$", fontsize=fontsize)
    right.legend(*left.get_legend_handles_labels(), fontsize=fontsize, loc="upper left", bbox_to_anchor=(1, 1))
    if drawing_fontsize is not None:
        right.text(0.5, 0.5, "in a box", fontsize=drawing_fontsize)
    fig.tight_layout()
    return fig


@pytest.mark.parametrize("width", [3.0, 5.0, 9.0])
def test_a_static_figure_is_rendered_with_every_text_readable_at_its_own_width(width):
    fig = static_figure(width)
    png, report = widgets.phone_readable_png(fig)
    # Checked independently: every text's size in the image, scaled to the phone's column.
    scale = min(1.0, widgets.PHONE_COLUMN_PX / png_width(png))
    px = {t.get_text(): t.get_fontsize() * fig.dpi / 72 * scale for t in widgets.shown_texts(fig)}
    assert {"a title", "a line", "step $t$"} <= set(px)
    assert any(re.fullmatch(r"[0-9.−-]+", name) for name in px), "tick labels are checked too"
    assert min(px.values()) >= widgets.MIN_TEXT_PX_ON_PHONE, px
    assert report["width_px"] == png_width(png) and report["dpi"] == fig.dpi
    assert report["smallest_text_px_on_phone"] == pytest.approx(min(px.values()))
    plt.close(fig)


def test_before_the_pass_the_same_figure_is_unreadable_on_a_phone():
    # The test above is not vacuous: rendered as it is, the 9 in figure's text is about 4 px.
    fig = static_figure(9.0)
    png = widgets.figure_to_png(fig, dpi=fig.dpi)
    scale = min(1.0, widgets.PHONE_COLUMN_PX / png_width(png))
    assert 6 * fig.dpi / 72 * scale < 5


def test_a_drawings_label_keeps_its_size_and_the_report_says_it_is_too_small():
    fig = static_figure(5.0, fontsize=12, drawing_fontsize=5)
    png, report = widgets.phone_readable_png(fig)
    assert report["smallest_text"] == "in a box"
    assert report["smallest_text_points"] == 5
    assert report["smallest_text_px_on_phone"] < widgets.MIN_TEXT_PX_ON_PHONE
    plt.close(fig)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    existed = InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    yield shell
    shell.display_formatter.ipython_display_formatter.pop(Figure, None)
    if not existed:                  # leave no IPython shell behind for later tests
        InteractiveShell.clear_instance()


def published(shell, obj):
    """What displaying ``obj`` in ``shell`` publishes: a list of (data, metadata)."""
    from IPython.display import display
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        display(obj)
    return [(out.data, out.metadata) for out in captured.outputs]


def test_readable_inline_figures_shows_every_figure_through_the_pass(shell):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    assert widgets.readable_inline_figures(shell) is True
    fig = static_figure(9.0)
    ((data, metadata),) = published(shell, fig)
    png = base64.b64decode(data["image/png"])
    report = metadata["lectlib"]["readable"]
    assert report["width_px"] == png_width(png)
    smallest = min(t.get_fontsize() for t in widgets.shown_texts(fig))
    assert smallest * fig.dpi / 72 * min(1, widgets.PHONE_COLUMN_PX / png_width(png)) >= widgets.MIN_TEXT_PX_ON_PHONE
    assert report["smallest_text_px_on_phone"] >= widgets.MIN_TEXT_PX_ON_PHONE
    assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend
    plt.close(fig)


def test_a_figure_the_pass_cannot_make_readable_warns(shell):
    widgets.readable_inline_figures(shell)
    fig = static_figure(5.0, fontsize=12, drawing_fontsize=5)
    with pytest.warns(UserWarning, match="'in a box' is .* px on a phone"):
        published(shell, fig)
    plt.close(fig)


def test_a_drawing_with_its_axes_turned_off_is_left_as_it_is():
    # Chapter 7's truncated-BPTT diagram: its hidden axes' tick labels are not shown, so
    # there is nothing to enlarge and the drawing keeps its layout (and its labels' size).
    from lectlib import diagrams

    def drawing():
        fig, axis = plt.subplots(figsize=(8, 4.6))
        diagrams.unrolled_rnn(axis, T=6, truncation=3)
        return fig

    untouched = widgets.figure_to_png(drawing(), dpi=100)
    fig = drawing()
    png, report = widgets.phone_readable_png(fig)
    assert png_width(png) == png_width(untouched)
    assert all(widgets._is_drawing_text(t) for t in widgets.shown_texts(fig))
    assert report["smallest_text_px_on_phone"] >= widgets.MIN_TEXT_PX_ON_PHONE, report
    plt.close(fig)


def test_outside_ipython_readable_inline_figures_does_nothing():
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        pytest.skip("an IPython shell runs in this process")
    assert widgets.readable_inline_figures() is False
