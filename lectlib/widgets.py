"""Interactive figures that work with a live kernel and on the static website without one.

A static page has no kernel to run a Python callback, so the figure is precomputed
for every value on a small grid of one or two parameters. The images sit in
``ipywidgets.Stack`` widgets whose visible child follows the sliders through
``ipywidgets.jslink``, a link that runs in the browser. The notebook's saved widget
state carries images, sliders and links onto the page.

Building a figure changes no global state: no matplotlib backend switch, no rcParams,
no pyplot figure left open (a figure ``render`` made with pyplot is closed once it is
an image; one made with :class:`matplotlib.figure.Figure` never touches pyplot), so the
page's ordinary inline figures keep showing after a widget.

Each frame is an ``<img>`` with alt text (what the figure shows and the parameter
values of that frame), its text is enlarged until it stays readable on a phone, and
the sliders fill the width they have (at most 420 px) with the value readout inside it.
"""
import base64
import html
import io
import itertools
import re
import sys

import ipywidgets
import matplotlib.text
from matplotlib.figure import Figure

MAX_FRAMES = 200

# The page's text column on a phone 390 CSS px wide (16 px of padding on each side):
# a wider image is scaled down to this width.
PHONE_COLUMN_PX = 358
# The smallest text a frame may show on that phone, in CSS px after the scaling.
MIN_TEXT_PX_ON_PHONE = 10
SLIDER_MAX_WIDTH = "420px"


def new_figure(figsize=(6, 3), **subplots):
    """A figure with its axes, made without pyplot (no global figure registry, no backend).
    For ``render`` functions of :func:`interactive_figure` (chapters 1 on); checked by
    tests/test_widgets.py.

    Arguments:
        figsize: ``(width, height)`` in inches.
        **subplots: passed to :meth:`matplotlib.figure.Figure.subplots` (``nrows``,
            ``ncols``, ``sharex``, ``gridspec_kw``, ...).

    Returns:
        ``(fig, axes)`` as ``plt.subplots`` returns them.
    """
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**subplots)


def _release(fig):
    """Closes ``fig`` in pyplot if pyplot manages it; a bare ``Figure`` needs nothing."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and getattr(fig.canvas, "manager", None) is not None:
        pyplot.close(fig)


def figure_to_png(fig, dpi=80):
    """Renders a matplotlib figure to PNG bytes and releases it (every interactive figure,
    chapters 1 on; checked by tests/test_widgets.py).

    Uses the figure's own canvas (Agg for PNG output), never pyplot's current figure or
    the global backend. A figure that pyplot manages is closed, so it is not shown a
    second time under the widget.

    Arguments:
        fig: a :class:`matplotlib.figure.Figure`.
        dpi: resolution in dots per inch.

    Returns:
        The PNG file's bytes.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    _release(fig)
    return buffer.getvalue()


def _phone_scale(fig, dpi):
    """How much a phone shrinks a frame of ``fig`` rendered at ``dpi`` (1 when it fits)."""
    return min(1.0, PHONE_COLUMN_PX / (fig.get_figwidth() * dpi))


def text_px_on_phone(fig, text, dpi):
    """The height in CSS px that ``text`` (a matplotlib Text of ``fig``) has on a phone.
    Every interactive figure, chapters 1 on; checked by tests/test_widgets.py."""
    return text.get_fontsize() * dpi / 72 * _phone_scale(fig, dpi)


def _is_drawing_text(text):
    """Text placed in data coordinates belongs to a drawing (a label inside a box whose
    size is in data units); enlarging it would break the drawing, so it is left alone."""
    axes = text.axes
    return axes is not None and text.get_transform() is axes.transData and text.get_text() != ""


def readable_texts(fig):
    """The texts of ``fig`` that :func:`make_text_readable` enlarges: titles, axis and
    tick labels, legends, annotations in axes or figure coordinates (not data-coordinate
    labels of drawings), each with some text in it. Every interactive figure, chapters 1
    on; checked by tests/test_widgets.py."""
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]
    return [t for t in texts if not _is_drawing_text(t)]


def make_text_readable(fig, dpi):
    """Enlarges every text of ``fig`` that a phone would show smaller than
    ``MIN_TEXT_PX_ON_PHONE`` px to that size, and lays the figure out again. Every
    interactive figure, chapters 1 on; checked by tests/test_widgets.py.

    A frame wider than the phone's column is scaled down to fit it, so the smallest
    readable font grows with the figure's width. Tick labels are enlarged through
    ``tick_params`` so ticks made later get the size too. Texts in data coordinates
    (labels inside drawn boxes) keep their size: see :func:`readable_texts`.

    Arguments:
        fig: a :class:`matplotlib.figure.Figure`.
        dpi: the resolution the frame will be rendered at.

    Returns:
        The smallest font size, in points, that the figure's texts now have.
    """
    min_points = MIN_TEXT_PX_ON_PHONE * 72 / dpi / _phone_scale(fig, dpi)
    changed = False
    for axes in fig.axes:
        for axis_name, axis in (("x", axes.xaxis), ("y", axes.yaxis)):
            for which, ticks in (("major", axis.get_major_ticks()), ("minor", axis.get_minor_ticks())):
                sizes = [tick.label1.get_fontsize() for tick in ticks]
                if sizes and min(sizes) < min_points:
                    axes.tick_params(axis=axis_name, which=which, labelsize=min_points)
                    changed = True
    for text in readable_texts(fig):
        if text.get_fontsize() < min_points:
            text.set_fontsize(min_points)
            changed = True
    if changed and fig.get_layout_engine() is None:
        _lay_out_again(fig)
    return min_points


def _lay_out_again(fig):
    """``tight_layout`` once more for the larger text, silently: figures it cannot lay out
    (axes placed by hand) keep their layout, and ``savefig``'s tight bounding box still
    keeps every label inside the image."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fig.tight_layout()
        except (ValueError, RuntimeError):
            pass


_TEX_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "Delta": "Δ", "Sigma": "Σ", "sum": "Σ", "top": "ᵀ", "cdot": "·", "times": "×",
    "infty": "∞", "leq": "≤", "geq": "≥", "approx": "≈", "to": "→", "odot": "⊙",
}


def plain_text(label):
    """A matplotlib label as plain text for a screen reader: mathtext ``$\\gamma_t$``
    becomes ``γ_t``, other TeX commands and braces are dropped. Alt text of every
    interactive figure, chapters 1 on; checked by tests/test_widgets.py."""
    def symbol(match):
        return _TEX_SYMBOLS.get(match.group(1), match.group(1))

    text = re.sub(r"\\([A-Za-z]+)\s?", symbol, label)
    return re.sub(r"\s+", " ", text.replace("$", "").replace("{", "").replace("}", "")).strip()


def describe_figure(fig):
    """What ``fig`` shows, read from its own text: the overall title, then each panel's
    title, axis labels and legend entries. For alt text when the page gives none (every
    interactive figure, chapters 1 on; checked by tests/test_widgets.py)."""
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        parts.append(plain_text(suptitle.get_text()))
    for axes in fig.axes:
        if not axes.get_visible():
            continue
        bits = [plain_text(axes.get_title())] if axes.get_title().strip() else []
        axis_labels = [f"{name} axis {plain_text(label)}"
                       for name, label in (("x", axes.get_xlabel()), ("y", axes.get_ylabel())) if label.strip()]
        legend = axes.get_legend()
        entries = [plain_text(t.get_text()) for t in legend.get_texts()] if legend is not None else []
        if entries:
            axis_labels.append("legend: " + ", ".join(entries))
        if axis_labels:
            bits.append("(" + "; ".join(axis_labels) + ")")
        if bits:
            parts.append(" ".join(bits))
    return "; ".join(parts) if parts else "a figure"


def _alt_text(description, values):
    """The alt text of one frame: the description and the frame's parameter values."""
    shown = ", ".join(f"{name} = {_format_value(value)}" for name, value in values.items())
    return f"Interactive figure, {shown}: {description}"


def _frame_html(png, alt):
    """An ``<img>`` holding the PNG inline, with its alt text, scaled to fit its column."""
    source = base64.b64encode(png).decode("ascii")
    return (f'<img class="lectlib-frame" alt="{html.escape(alt, quote=True)}" '
            f'src="data:image/png;base64,{source}" style="max-width: 100%; height: auto;">')


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


def _frame(render, values, dpi, alt):
    fig = render(**values)
    if not isinstance(fig, Figure):
        raise TypeError(f"render must return a matplotlib Figure, returned {type(fig).__name__}")
    make_text_readable(fig, dpi)
    if alt is None:
        description = describe_figure(fig)
    elif callable(alt):
        description = alt(**values)
    else:
        description = alt
    text = _alt_text(description, values)
    return ipywidgets.HTML(value=_frame_html(figure_to_png(fig, dpi=dpi), text))


def interactive_figure(render, dpi=80, alt=None, **grids):
    """A figure with a slider per parameter that stays interactive without a kernel.
    Every chapter has one (chapters 1 on); checked by tests/test_widgets.py and, in a
    browser, tests/test_site.py.

    Arguments:
        render: ``render(**values) -> matplotlib.figure.Figure``, called once per grid point.
            :func:`new_figure` makes one without pyplot; a pyplot figure is closed after use.
        dpi: resolution of the precomputed images.
        alt: what the figure shows, for its alt text: a string, or
            ``alt(**values) -> str``; by default read from the figure's titles, axis
            labels and legends. Each frame's alt text adds its parameter values.
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
            tooltip=f"{name}: move the slider to change the figure",
            continuous_update=True,
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="100%", max_width=SLIDER_MAX_WIDTH),
        )
        for name, vals in zip(names, values)
    ]
    images = {
        combo: _frame(render, dict(zip(names, combo)), dpi, alt)
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
    box = ipywidgets.VBox(sliders + [stack], layout=ipywidgets.Layout(width="100%"))
    box.add_class("lectlib-interactive-figure")
    box.slider_links = links
    return box
