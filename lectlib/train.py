"""A small training loop for the chapters: full-batch gradient descent that stops at a
stated target, so every page trains for a bounded, reproducible time.

The hand-written update ``θ ← θ − η ∇L`` is ``sgd_update``; ``fit`` runs it (or an optax
optimizer such as Adam, once the chapters have taught the plain update) in jitted chunks
of ``eval_every`` steps with ``jax.lax.scan``, and checks the stopping rule between chunks.
"""
import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lectlib._checks import check_positive_int


def sgd_update(params, grads, learning_rate):
    """``θ ← θ − η g`` for every array of the pytrees ``params`` and ``grads``.
    Chapters 3, 7 and 8; tests/test_train.py::test_sgd_update_is_theta_minus_eta_g."""
    return jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, params, grads)


def batch_mean(per_example_loss):
    """Turns ``loss(params, x, y) -> scalar`` on one sequence into ``loss(params, (xs, ys))``,
    the mean over a batch (leading axis) via ``jax.vmap``.
    Chapters 6-10; tests/test_train.py::test_batch_mean_and_accuracy."""
    def loss(params, batch):
        xs, ys = batch
        return jnp.mean(jax.vmap(per_example_loss, in_axes=(None, 0, 0))(params, xs, ys))

    return loss


class FitResult(NamedTuple):
    """What ``fit`` returns: final ``params``, the loss after every step ``(steps_run,)``,
    the ``(step, metric)`` pairs measured between chunks, and whether the target was reached."""
    params: Any
    losses: jax.Array
    metrics: list
    reached_target: bool

    @property
    def steps_run(self):
        return int(self.losses.shape[0])


def make_optimizer(name, learning_rate, max_grad_norm=None):
    """``"sgd"`` (the plain update) or ``"adam"``, optionally after global-norm clipping
    (chapter 7). Used by ``fit``; tests/test_train.py::test_fit_with_sgd_follows_the_hand_written_update."""
    optimizers = {"sgd": optax.sgd, "adam": optax.adam}
    if name not in optimizers:
        raise ValueError(f"optimizer must be one of {sorted(optimizers)}, received {name!r}")
    parts = [optimizers[name](learning_rate)]
    if max_grad_norm is not None:
        parts.insert(0, optax.clip_by_global_norm(max_grad_norm))
    return optax.chain(*parts)


def fit(loss_fn: Callable, params, batch, *, steps: int, learning_rate: float = 1e-2,
        optimizer: str = "adam", max_grad_norm: float | None = None,
        metric_fn: Callable | None = None, target: float | None = None,
        higher_is_better: bool = True, eval_every: int = 50) -> FitResult:
    """Trains ``params`` on a fixed ``batch`` until ``steps`` or until the metric hits ``target``.

    Arguments:
        loss_fn: ``loss_fn(params, batch) -> scalar``.
        params: the initial parameter pytree.
        batch: any pytree of arrays (the whole training set).
        steps: the most updates to run.
        learning_rate, optimizer (``"sgd"`` or ``"adam"``), max_grad_norm: the update rule.
        metric_fn: ``metric_fn(params) -> float``, measured every ``eval_every`` steps
            (default: the training loss).
        target: stop once the metric reaches it (``>=`` when ``higher_is_better``, else ``<=``).

    Returns:
        A ``FitResult``. Chapters 3 and 5-10; tests/test_train.py::test_fit_with_sgd_follows_the_hand_written_update
        and ::test_fit_stops_at_target.
    """
    check_positive_int(steps, "steps")
    check_positive_int(eval_every, "eval_every")
    opt = make_optimizer(optimizer, learning_rate, max_grad_norm)
    opt_state = opt.init(params)
    value_and_grad = jax.value_and_grad(loss_fn)

    def one_step(state, _):
        params, opt_state = state
        loss, grads = value_and_grad(params, batch)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @functools.partial(jax.jit, static_argnums=2)
    def chunk(params, opt_state, length):
        (params, opt_state), losses = jax.lax.scan(one_step, (params, opt_state), None, length=length)
        return params, opt_state, losses

    measure = metric_fn or jax.jit(lambda p: loss_fn(p, batch))
    losses, metrics, reached, done = [], [], False, 0
    while done < steps:
        take = min(eval_every, steps - done)
        params, opt_state, chunk_losses = chunk(params, opt_state, take)
        losses.append(chunk_losses)
        done += take
        value = float(measure(params))
        metrics.append((done, value))
        if target is not None and (value >= target if higher_is_better else value <= target):
            reached = True
            break
    return FitResult(params, jnp.concatenate(losses), metrics, reached)


def accuracy(logits, labels):
    """Share of ``argmax(logits, -1) == labels``. ``logits``: ``(n, C)``; ``labels``: ``(n,)``.
    Chapters 6 and 8; tests/test_train.py::test_batch_mean_and_accuracy."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)
