"""Training and measuring recurrent cells on the course's tasks (chapters 8 and 9).

A model is a cell (``lectlib.cells.<name>``) scanned over the sequence and read out by
``o_t = V h_t + c``. The functions here train such a model on a fixed batch with
``lectlib.train.fit`` and measure what the chapters compare: accuracy, learning curves,
and how far back the gradient reaches.
"""
import functools

import jax
import jax.numpy as jnp

from lectlib import losses
from lectlib.cells import elman, gru, lstm, mgu
from lectlib.cells._common import glorot
from lectlib.scans import run
from lectlib.train import batch_mean, fit

CELLS = {"elman": elman, "mgu": mgu, "lstm": lstm, "gru": gru}


def _cell(name):
    if name not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, received {name!r}")
    return CELLS[name]


def init(key, cell, d_x, d_h, d_y):
    """``{"cell": the cell's parameters, "V": (d_y, d_h), "c": (d_y,)}``. Chapters 8 and 9;
    tests/test_experiments.py::test_outputs_are_the_cell_run_step_by_step_then_read_out."""
    k_cell, k_out = jax.random.split(key)
    module = _cell(cell)
    cell_params = module.init(k_cell, d_x, d_h)
    if cell == "elman":
        cell_params = {k: cell_params[k] for k in ("U", "W", "b")}
    return {"cell": cell_params, "V": glorot(k_out, (d_y, d_h)), "c": jnp.zeros((d_y,))}


def states(cell, params, xs):
    """All hidden states ``(T, d_h)`` of the model on one sequence ``xs`` ``(T, d_x)``, from the
    cell's ``init_state``. Chapters 8 and 9; tests/test_experiments.py::test_outputs_are_the_cell_run_step_by_step_then_read_out."""
    module = _cell(cell)
    carry = run(module.step, params["cell"], xs, module.init_state(params["V"].shape[1], xs.dtype))
    return carry[0] if cell == "lstm" else carry


def gate_activations(cell, params, xs):
    """The gates of a gated cell at every step of its run over one sequence ``xs`` ``(T, d_x)``:
    the cell's ``gates(params, h_{t-1}, x_t)`` stacked, a dict of ``(T, d_h)`` arrays (MGU: f, h;
    LSTM: f, i, q, g; GRU: z, r, h). Chapter 9; tests/test_experiments.py::test_gate_activations_follow_the_run."""
    module = _cell(cell)
    if not hasattr(module, "gates"):
        raise ValueError(f"cell {cell!r} has no gates; gated cells are {sorted(n for n, m in CELLS.items() if hasattr(m, 'gates'))}")
    xs = jnp.asarray(xs)
    first = module.init_state(params["V"].shape[1], xs.dtype)
    carries = run(module.step, params["cell"], xs, first)
    previous = jax.tree_util.tree_map(lambda a, c: jnp.concatenate([a[None], c[:-1]]), first, carries)
    h_previous = previous[0] if cell == "lstm" else previous
    return jax.vmap(lambda h, x: module.gates(params["cell"], h, x))(h_previous, xs)


def outputs(cell, params, xs):
    """All outputs ``(T, d_y)``: ``V h_t + c``. Chapters 8 and 9;
    tests/test_experiments.py::test_outputs_are_the_cell_run_step_by_step_then_read_out."""
    return elman.output(params, states(cell, params, xs))     # o_t = c + V h_t, written once in cells.elman


@functools.partial(jax.jit, static_argnums=0)
def batch_outputs(cell, params, xs):
    """All outputs of a batch ``xs`` ``(n, T, d_x)``: ``(n, T, d_y)``, compiled once per shape.
    Chapters 8 and 9; tests/test_experiments.py::test_batch_outputs_are_outputs_per_sequence."""
    return jax.vmap(lambda x: outputs(cell, params, x))(xs)


LOSSES = {
    "last_mse": lambda o, y: jnp.sum((o[-1] - y) ** 2),
    "last_xent": losses.last_step_cross_entropy,
    "sequence_mse": losses.sequence_mse,
}


def train(cell, key, xs, ys, *, d_h=16, loss="last_mse", steps=1000, learning_rate=0.01, metric=None,
          target=None, higher_is_better=True, eval_every=50):
    """Trains a fresh model on the batch ``xs`` ``(n, T, d_x)``, ``ys`` (targets per sequence).

    ``loss``: ``"last_mse"`` (one number per sequence, judged at the end), ``"last_xent"``
    (a class label per sequence) or ``"sequence_mse"`` (a target per step).
    ``metric(cell, params) -> float`` is measured every ``eval_every`` steps.
    Returns a ``lectlib.train.FitResult``. Chapters 8 and 9;
    tests/test_experiments.py::test_training_reduces_the_loss_and_stops_at_the_target.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, received {loss!r}")
    d_y = 2 if loss == "last_xent" else (ys.shape[-1] if loss == "sequence_mse" else 1)
    params = init(key, cell, xs.shape[-1], d_h, d_y)
    per_sequence = lambda p, x, y: LOSSES[loss](outputs(cell, p, x), y)   # noqa: E731
    metric_fn = None if metric is None else (lambda p: metric(cell, p))
    return fit(batch_mean(per_sequence), params, (xs, ys), steps=steps, learning_rate=learning_rate,
               metric_fn=metric_fn, target=target, higher_is_better=higher_is_better, eval_every=eval_every)


def last_output_accuracy(cell, params, xs, labels):
    """Share of sequences whose last output's argmax is the label. ``xs`` ``(n, T, d_x)``;
    ``labels`` ``(n,)`` integers. Chapter 8; tests/test_experiments.py::test_last_output_accuracy_counts_argmax_matches."""
    last = batch_outputs(cell, params, xs)[:, -1]
    return float(jnp.mean(jnp.argmax(last, axis=-1) == labels))


def within_tolerance_accuracy(cell, params, xs, targets, tolerance=0.1):
    """Share of sequences whose last (scalar) output is within ``tolerance`` of the target
    (the adding problem's measure). ``xs`` ``(n, T, d_x)``; ``targets`` ``(n,)``. Chapters 8
    and 9; tests/test_experiments.py::test_within_tolerance_accuracy_counts_last_outputs_near_their_targets."""
    last = batch_outputs(cell, params, xs)[:, -1, 0]
    return float(jnp.mean(jnp.abs(last - targets) < tolerance))


def input_gradient_norms(cell, params, xs):
    """``‖∂o_T/∂x_t‖`` for every step ``t``: how much the last output can still learn
    from each input. ``xs`` ``(T, d_x)``. Returns ``(T,)``. Chapter 9;
    tests/test_experiments.py::test_input_gradient_norms_match_jax_jacobian."""
    grads = jax.grad(lambda x: jnp.sum(outputs(cell, params, x)[-1]))(xs)
    return jnp.linalg.norm(grads, axis=-1)
