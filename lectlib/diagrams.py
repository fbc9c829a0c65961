"""Diagrams drawn by code: the unrolled computational graph of a recurrent network.

Chapters 4 and 7 draw the Elman network of Goodfellow et al. (ch. 10, fig. 10.3)
unrolled over a few steps: inputs ``x_t`` enter through ``U``, the state ``h_{t-1}``
reaches ``h_t`` through ``W``, the read-out ``V`` gives ``o_t``, and each output meets
its target ``y_t`` in a loss ``L_t``. The same ``U``, ``W``, ``V`` label every step:
the weights are shared. Truncated BPTT (chapter 7) is drawn as chunks of ``k`` steps
whose boundary ``W`` edges are dashed: the state crosses them, the gradient does not.

The function draws on a matplotlib ``Axes`` it is given and changes no global state
(no backend, no rc parameters), so it can be used in any figure. It returns what it
drew, so tests and pages can check the picture against the equations.
"""
from dataclasses import dataclass, field

from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from lectlib._checks import check_positive_int

MAX_STEPS = 12
_ROW = {"x": 0.0, "h": 1.0, "o": 2.0, "L": 3.0, "y": 4.0}
_STYLE = {  # face colour of each kind of node
    "x": "#dbe9f6", "h": "#fde5c8", "o": "#e2f0d9", "L": "#f4cccc", "y": "#eeeeee",
}
_RADIUS = 0.26


@dataclass
class UnrolledGraph:
    """What :func:`unrolled_rnn` drew.

    Attributes:
        nodes: ``{name: (x, y)}`` for every node, named ``"x_1"``, ``"h_0"``, ``"o_2"``,
            ``"L_3"``, ``"y_3"``, … (the label drawn is the TeX form, ``$x_1$``).
        edges: ``[(source, target, weight)]`` for every arrow; ``weight`` is ``"U"``,
            ``"W"`` or ``"V"`` for the shared weights, ``None`` for the arrows into a loss.
        cut: the ``W`` edges that cross a truncation boundary (drawn dashed), as
            ``(source, target)`` pairs; empty without truncation.
        chunks: the steps ``(first, last)`` of every truncation chunk; empty without truncation.
    """
    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    cut: list = field(default_factory=list)
    chunks: list = field(default_factory=list)


def _node_label(name):
    kind, step = name.split("_")
    return f"${kind}_{{{step}}}$"


def unrolled_rnn(ax, T=3, *, show_outputs=True, show_losses=True, truncation=None,
                 fontsize=13):
    """Draws the Elman network unrolled over ``T`` steps on the matplotlib axes ``ax``.

    ``h_t = tanh(b + W h_{t-1} + U x_t)``, ``o_t = c + V h_t``, ``L_t = loss(o_t, y_t)``
    (Goodfellow et al., fig. 10.3), from the initial state ``h_0``. Chapters 4 and 7;
    checked by ``tests/test_diagrams.py``.

    Arguments:
        ax: a matplotlib ``Axes`` (its limits are set, its frame and ticks hidden).
        T: number of steps, an int from 1 to 12.
        show_outputs: draw the read-out ``V`` and the outputs ``o_t``.
        show_losses: draw the targets ``y_t`` and the losses ``L_t`` (needs ``show_outputs``).
        truncation: ``None``, or a chunk length ``k`` (positive int) for truncated BPTT:
            each chunk of ``k`` steps gets a shaded box and the ``W`` edges between
            chunks are dashed (no gradient crosses them).
        fontsize: size of the node and weight labels, in points.

    Returns:
        An :class:`UnrolledGraph` listing the nodes, edges, cut edges and chunks drawn.
    """
    check_positive_int(T, "T (the number of steps drawn)")
    if T > MAX_STEPS:
        raise ValueError(f"T must be at most {MAX_STEPS} steps for a readable diagram, received {T}")
    if show_losses and not show_outputs:
        raise ValueError("show_losses=True needs show_outputs=True: each loss L_t is computed from the output o_t")
    if truncation is not None:
        check_positive_int(truncation, "truncation (the chunk length k)")

    graph = UnrolledGraph()
    graph.nodes["h_0"] = (0.0, _ROW["h"])
    for t in range(1, T + 1):
        graph.nodes[f"x_{t}"] = (float(t), _ROW["x"])
        graph.nodes[f"h_{t}"] = (float(t), _ROW["h"])
        graph.edges.append((f"x_{t}", f"h_{t}", "U"))
        graph.edges.append((f"h_{t - 1}", f"h_{t}", "W"))
        if show_outputs:
            graph.nodes[f"o_{t}"] = (float(t), _ROW["o"])
            graph.edges.append((f"h_{t}", f"o_{t}", "V"))
        if show_losses:
            graph.nodes[f"L_{t}"] = (float(t), _ROW["L"])
            graph.nodes[f"y_{t}"] = (float(t), _ROW["y"])
            graph.edges.append((f"o_{t}", f"L_{t}", None))
            graph.edges.append((f"y_{t}", f"L_{t}", None))
    if truncation is not None:
        graph.chunks = [(first, min(first + truncation - 1, T)) for first in range(1, T + 1, truncation)]
        graph.cut = [(f"h_{first - 1}", f"h_{first}") for first, _ in graph.chunks[1:]]

    top = max(y for _, y in graph.nodes.values())
    for first, last in graph.chunks:
        ax.add_patch(Rectangle((first - 0.45, -0.45), last - first + 0.9, top + 0.9, facecolor="#f2f2f2",
                               edgecolor="0.55", linewidth=1.0, linestyle=":", zorder=0, gid=f"chunk {first}-{last}"))
    for name, (x, y) in graph.nodes.items():
        kind = name.split("_")[0]
        ax.add_patch(Circle((x, y), _RADIUS, facecolor=_STYLE[kind], edgecolor="0.2", linewidth=1.2,
                            zorder=2, gid=name))
        ax.text(x, y, _node_label(name), ha="center", va="center", fontsize=fontsize, zorder=3, gid=name)
    cut = set(graph.cut)
    for source, target, weight in graph.edges:
        (x0, y0), (x1, y1) = graph.nodes[source], graph.nodes[target]
        dashed = (source, target) in cut
        arrow = FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, shrinkA=0, shrinkB=0,
                                linewidth=1.3, color="0.55" if dashed else "0.15",
                                linestyle=(0, (4, 3)) if dashed else "-", zorder=1,
                                gid=f"{source}->{target}")
        # Shorten the arrow to the circles' rims (in data units, so any figure size works).
        length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        arrow.set_positions((x0 + _RADIUS * ux, y0 + _RADIUS * uy), (x1 - _RADIUS * ux, y1 - _RADIUS * uy))
        ax.add_patch(arrow)
        if weight is not None:
            horizontal = y0 == y1
            ax.text((x0 + x1) / 2 + (0.0 if horizontal else 0.1), (y0 + y1) / 2 + (0.1 if horizontal else 0.0),
                    f"${weight}$", ha="center" if horizontal else "left", va="bottom" if horizontal else "center",
                    fontsize=fontsize - 1, color="0.1", zorder=3, gid=f"weight {weight}")
    ax.set_xlim(-0.6, T + 0.6)
    ax.set_ylim(-0.6, top + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return graph
