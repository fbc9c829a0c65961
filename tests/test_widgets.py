"""lectlib.widgets: precomputed frames, sliders linked in the browser to the right stacks."""
import ipywidgets
import matplotlib.pyplot as plt
import pytest

from lectlib import widgets


def render(**values):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title(repr(sorted(values.items())))
    return fig


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
    assert all(isinstance(image, ipywidgets.Image) and image.value[:4] == b"\x89PNG" for image in stack.children)
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
    assert first.value != second.value


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
