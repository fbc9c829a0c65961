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

A page's static figures get the same readable text through :func:`readable_inline_figures`,
which a chapter calls once in its first cell: the one global change this module makes,
on request, to the IPython display of matplotlib figures (not to matplotlib).
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
    return [t for t in shown_texts(fig) if not _is_drawing_text(t)]


def _drawn_axes_axes(axes):
    """The x and y axes of ``axes`` that are drawn: none when the axes is turned off
    (``axis("off")``, as drawings do), else those that are visible."""
    if not axes.get_visible() or not axes.axison:
        return []
    return [axis for axis in (axes.xaxis, axes.yaxis) if axis.get_visible()]


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
    _enlarge_texts(fig, min_points)
    return min_points


def _enlarge_texts(fig, min_points):
    """Sets every readable text of ``fig`` smaller than ``min_points`` to that size and lays
    the figure out again; returns whether anything changed."""
    changed = False
    for axes in fig.axes:
        for axis in _drawn_axes_axes(axes):
            axis_name = axis.axis_name
            for which, ticks in (("major", axis.get_major_ticks()), ("minor", axis.get_minor_ticks())):
                sizes = [label.get_fontsize() for tick in ticks for label in (tick.label1, tick.label2)
                         if label.get_visible()]
                if sizes and min(sizes) < min_points:
                    axes.tick_params(axis=axis_name, which=which, labelsize=min_points)
                    changed = True
    for text in readable_texts(fig):
        if text.get_fontsize() < min_points:
            text.set_fontsize(min_points)
            changed = True
    if changed and fig.get_layout_engine() is None:
        _lay_out_again(fig)
    return changed


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


def _png_width(png):
    """The width in pixels of a PNG, read from its header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    return int.from_bytes(png[16:20], "big")


def _inline_png(fig):
    """``fig`` as the inline backend renders it: PNG at the figure's dpi, tight bounding box."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight",
                facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor())
    return buffer.getvalue()


def shown_texts(fig):
    """Every text ``fig`` draws: titles, labels, tick labels, legends, annotations and the
    labels of drawings, each visible and with some text in it. Every static figure,
    chapters 1 on; checked by tests/test_widgets.py."""
    hidden = set()
    for axes in fig.axes:
        drawn = _drawn_axes_axes(axes)
        for axis in (axes.xaxis, axes.yaxis):
            if axis not in drawn:          # an axis that is not drawn shows none of its labels
                hidden.update(id(t) for t in axis.findobj(matplotlib.text.Text))
        if not axes.get_visible():
            hidden.update(id(t) for t in axes.findobj(matplotlib.text.Text))
    return [t for t in fig.findobj(matplotlib.text.Text)
            if t.get_text().strip() and t.get_visible() and id(t) not in hidden]


def phone_readable_png(fig, attempts=5):
    """``fig`` rendered as a page shows it inline (PNG at ``fig.dpi``, tight bounding box),
    with every text enlarged until it is at least ``MIN_TEXT_PX_ON_PHONE`` px on a phone.
    Every static figure, chapters 1 on (through :func:`readable_inline_figures`); checked
    by tests/test_widgets.py.

    The phone scales the image to its column of ``PHONE_COLUMN_PX`` px, so a text of
    ``s`` points is ``s * dpi / 72 * min(1, PHONE_COLUMN_PX / width)`` px there, where
    ``width`` is the rendered image's own width: the texts are enlarged, the figure laid
    out and rendered again until that holds (the image may widen as its text grows).
    Labels of drawings (text in data coordinates, see :func:`readable_texts`) keep the
    size their boxes were drawn for; the report says how large they are.

    Arguments:
        fig: a :class:`matplotlib.figure.Figure`.
        attempts: how many times at most to enlarge and render again.

    Returns:
        ``(png, report)``: the PNG's bytes and a dict with ``dpi``, ``width_px`` (the
        image's width), ``smallest_text_points`` and ``smallest_text_px_on_phone`` (over
        every text the figure shows, drawings' labels included; ``None`` without text) and
        ``smallest_text`` (that text).
    """
    dpi = fig.dpi
    for _ in range(attempts):
        png = _inline_png(fig)
        scale = min(1.0, PHONE_COLUMN_PX / _png_width(png))
        # a hair above the minimum, so rounding in the next layout cannot undo it
        needed = MIN_TEXT_PX_ON_PHONE * 72 / dpi / scale * 1.001
        if not _enlarge_texts(fig, needed):
            break
    else:
        png = _inline_png(fig)
        scale = min(1.0, PHONE_COLUMN_PX / _png_width(png))
    texts = shown_texts(fig)
    smallest = min(texts, key=lambda t: t.get_fontsize()) if texts else None
    points = smallest.get_fontsize() if smallest is not None else None
    report = {
        "dpi": float(dpi),
        "width_px": _png_width(png),
        "smallest_text_points": points,
        "smallest_text_px_on_phone": None if points is None else points * dpi / 72 * scale,
        "smallest_text": None if smallest is None else smallest.get_text(),
    }
    return png, report


def _show_readable(fig):
    """The inline display of a figure: its phone-readable PNG, and the report in the
    output's metadata (``lectlib.readable``) for the site's tests."""
    from IPython.display import publish_display_data

    if not fig.axes and not fig.lines:   # an empty figure shows nothing, as inline
        return
    png, report = phone_readable_png(fig)
    px = report["smallest_text_px_on_phone"]
    if px is not None and px < MIN_TEXT_PX_ON_PHONE - 1e-6:
        import warnings

        warnings.warn(f"the figure's text {report['smallest_text']!r} is {px:.1f} px on a phone, under "
                      f"{MIN_TEXT_PX_ON_PHONE} px: give it a larger fontsize (labels of drawings are "
                      f"not enlarged) or make the figure narrower", stacklevel=2)
    publish_display_data(
        data={"image/png": base64.b64encode(png).decode("ascii"), "text/plain": repr(fig)},
        metadata={"lectlib": {"readable": report}},
    )


def readable_inline_figures(shell=None):
    """From now on, every matplotlib figure this notebook shows inline (a cell's figures,
    ``plt.show()``, ``display(fig)``) is shown through :func:`phone_readable_png`: its text
    at least ``MIN_TEXT_PX_ON_PHONE`` px on a phone. Every chapter calls it in its first,
    hidden cell (chapters 1 to 11); checked by tests/test_widgets.py and, on the built
    site, tests/test_site.py.

    It registers a display hook for :class:`matplotlib.figure.Figure` in the running
    IPython shell (no matplotlib backend or rcParams change); outside IPython it does
    nothing. The interactive figures of :func:`interactive_figure` have their own pass.

    Arguments:
        shell: the IPython shell; by default the running one.

    Returns:
        Whether the hook was registered (``False`` outside IPython).
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.ipython_display_formatter.for_type(Figure, _show_readable)
    return True


_TEX_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "Delta": "Δ", "Sigma": "Σ", "sum": "Σ", "top": "ᵀ", "cdot": "·", "times": "×",
    "infty": "∞", "leq": "≤", "geq": "≥", "approx": "≈", "to": "→", "odot": "⊙",
    "partial": "∂", "nabla": "∇", "max": "max", "min": "min", "log": "log",
}


def plain_text(label):
    """A matplotlib label as plain text for a screen reader: mathtext ``$\\gamma_t$``
    becomes ``γ_t``, other TeX commands and braces are dropped. Alt text of every
    interactive figure, chapters 1 on; checked by tests/test_widgets.py."""
    def symbol(match):
        return _TEX_SYMBOLS.get(match.group(1), match.group(1))

    text = label.replace("\\|", "‖").replace("\\,", " ").replace("\\;", " ")
    text = re.sub(r"\\([A-Za-z]+)\s?", symbol, text)
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


def slider_label(name):
    """A parameter's name as its slider says it (and a screen reader reads it): words, not
    ``units_updated`` (chapter 10's Hopfield slider); tests/test_widgets.py."""
    return name.replace("_", " ")


def _alt_text(description, values):
    """The alt text of one frame: the description and the frame's parameter values."""
    shown = ", ".join(f"{slider_label(name)} = {_format_value(value)}" for name, value in values.items())
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
            description=slider_label(name),
            tooltip=f"{slider_label(name)}: move the slider to change the figure",
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
