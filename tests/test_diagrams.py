"""lectlib.diagrams: the unrolled graph has the nodes, edges and labels of the Elman
equations, and the picture on the axes is what the returned graph says."""
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from lectlib import diagrams


def draw(**options):
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    graph = diagrams.unrolled_rnn(ax, **options)
    fig.canvas.draw()  # the picture must render, not only build
    return ax, graph


def texts(ax):
    return [text.get_text() for text in ax.texts]


@pytest.mark.parametrize("T", [1, 3, 5])
def test_full_graph_has_every_node_edge_and_shared_weight_label(T):
    ax, graph = draw(T=T)
    # x_t, o_t, L_t, y_t for each step, h_0 … h_T
    assert len(graph.nodes) == 4 * T + (T + 1)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert sorted(c.get_gid() for c in circles) == sorted(graph.nodes)
    for circle in circles:
        assert circle.center == pytest.approx(graph.nodes[circle.get_gid()])
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert sorted(a.get_gid() for a in arrows) == sorted(f"{s}->{t}" for s, t, _ in graph.edges)
    weights = [w for _, _, w in graph.edges]
    assert weights.count("U") == weights.count("W") == weights.count("V") == T
    assert weights.count(None) == 2 * T          # o_t -> L_t and y_t -> L_t
    # U enters from x_t, W links consecutive states, V leaves h_t: the Elman equations
    for t in range(1, T + 1):
        assert (f"x_{t}", f"h_{t}", "U") in graph.edges
        assert (f"h_{t - 1}", f"h_{t}", "W") in graph.edges
        assert (f"h_{t}", f"o_{t}", "V") in graph.edges
        assert (f"o_{t}", f"L_{t}", None) in graph.edges
    labels = texts(ax)
    for weight in "UWV":
        assert labels.count(f"${weight}$") == T      # the same weights labelled at every step
    for name in graph.nodes:
        kind, step = name.split("_")
        assert f"${kind}_{{{step}}}$" in labels
    assert not graph.cut and not graph.chunks
    assert not [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]


def test_outputs_and_losses_can_be_hidden():
    ax, graph = draw(T=4, show_outputs=False, show_losses=False)
    assert sorted(graph.nodes) == sorted([f"x_{t}" for t in range(1, 5)] + [f"h_{t}" for t in range(5)])
    assert {w for _, _, w in graph.edges} == {"U", "W"}
    assert "$V$" not in texts(ax) and "$o_{1}$" not in texts(ax)
    ax, graph = draw(T=4, show_losses=False)
    assert "o_4" in graph.nodes and "L_4" not in graph.nodes and "y_4" not in graph.nodes
    assert texts(ax).count("$V$") == 4


def test_truncation_marks_chunks_and_cuts_the_boundary_edges():
    ax, graph = draw(T=7, truncation=3)
    assert graph.chunks == [(1, 3), (4, 6), (7, 7)]
    assert graph.cut == [("h_3", "h_4"), ("h_6", "h_7")]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle) and (p.get_gid() or "").startswith("chunk")]
    assert len(boxes) == 3
    arrows = {a.get_gid(): a for a in ax.patches if isinstance(a, FancyArrowPatch)}
    dashed = sorted(gid for gid, a in arrows.items() if a.get_linestyle() != "-")
    assert dashed == ["h_3->h_4", "h_6->h_7"]
    # every state still reaches the next one: truncation cuts gradients, not the forward pass
    assert all(f"h_{t - 1}->h_{t}" in arrows for t in range(1, 8))
    _, whole = draw(T=4, truncation=4)
    assert whole.cut == [] and whole.chunks == [(1, 4)]


@pytest.mark.parametrize("options, message", [
    ({"T": 0}, "T"), ({"T": 2.0}, "T"), ({"T": 13}, "at most 12"),
    ({"T": 3, "truncation": 0}, "truncation"),
    ({"T": 3, "show_outputs": False}, "show_losses=True needs show_outputs=True"),
])
def test_bad_options_are_refused_with_a_clear_message(options, message):
    ax = Figure().add_subplot(1, 1, 1)
    with pytest.raises(ValueError, match=message):
        diagrams.unrolled_rnn(ax, **options)
