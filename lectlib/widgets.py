"""Interactive figures that work with a live kernel and on the static website without one.

A static page has no kernel to run a Python callback, so the figure is precomputed
for every value on a small grid of one or two parameters. The images sit in
``ipywidgets.Stack`` widgets whose visible child follows the sliders through
``ipywidgets.jslink``, a link that runs in the browser. The notebook's saved widget
state carries images, sliders and links onto the page.
"""
import io
import itertools

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MAX_FRAMES = 200


def figure_to_png(fig, dpi=80):
    """Renders a matplotlib figure to PNG bytes and closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _format_value(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _check_grids(grids):
    if not 1 <= len(grids) <= 2:
        raise ValueError(f"interactive_figure takes one or two parameter grids, received {len(grids)}: "
                         f"{sorted(grids)}")
    for name, values in grids.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) < 2:
            raise ValueError(f"the grid for {name!r} must be a list of at least two values, received {values!r}")
    frames = 1
    for values in grids.values():
        frames *= len(values)
    if frames > MAX_FRAMES:
        raise ValueError(f"{frames} precomputed frames is too many for one page (at most {MAX_FRAMES}); "
                         f"use coarser grids")


def interactive_figure(render, dpi=80, **grids):
    """A figure with a slider per parameter that stays interactive without a kernel.

    Arguments:
        render: ``render(**values) -> matplotlib.figure.Figure``, called once per grid point.
        dpi: resolution of the precomputed images.
        **grids: one or two ``name=[values…]`` grids (at most 200 frames in all).

    Returns:
        An ``ipywidgets.VBox``: the sliders above the figure. Display it as a cell's
        last expression. Its ``slider_links`` are the browser-side links from each
        slider's ``index`` to the ``selected_index`` of the stacks it switches.
    """
    _check_grids(grids)
    names = list(grids)
    values = [list(grids[name]) for name in names]
    sliders = [
        ipywidgets.SelectionSlider(
            options=[_format_value(v) for v in vals],
            value=_format_value(vals[0]),
            description=name,
            continuous_update=True,
            layout=ipywidgets.Layout(width="420px"),
        )
        for name, vals in zip(names, values)
    ]
    images = {
        combo: ipywidgets.Image(value=figure_to_png(render(**dict(zip(names, combo))), dpi=dpi), format="png")
        for combo in itertools.product(*values)
    }
    if len(names) == 1:
        stack = ipywidgets.Stack([images[(v,)] for v in values[0]], selected_index=0)
        links = [ipywidgets.jslink((sliders[0], "index"), (stack, "selected_index"))]
    else:
        inner_stacks = [
            ipywidgets.Stack([images[(outer, inner)] for inner in values[1]], selected_index=0)
            for outer in values[0]
        ]
        stack = ipywidgets.Stack(inner_stacks, selected_index=0)
        links = [ipywidgets.jslink((sliders[0], "index"), (stack, "selected_index"))]
        links += [ipywidgets.jslink((sliders[1], "index"), (inner, "selected_index")) for inner in inner_stacks]
    box = ipywidgets.VBox(sliders + [stack])
    box.add_class("lectlib-interactive-figure")
    box.slider_links = links
    return box
