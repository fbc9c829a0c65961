"""Recurrent loss functions.

``sequence_mse`` asks the memory to be right at every step (the clock task);
``last_step_cross_entropy`` asks only the last state to know the label (classifying a
whole sequence). The masked variants take padded batches of different lengths and
ignore the padding, so they equal the unbatched losses averaged over the batch.
"""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_integer, check_shapes


def _as_steps(array, name):
    """``(T,)`` or ``(T, d)`` → ``(T, d)``."""
    array = as_array(array, name)
    check_inexact(array, name)
    if array.ndim == 1:
        array = array[:, None]
    check_shapes([(array, ("T", "d_y"), name)])
    return array


def per_step_square_error(y_hat, y):
    """``‖ŷ_t − y_t‖²`` for every step. ``y_hat``, ``y``: ``(T, d_y)`` or ``(T,)``. Returns ``(T,)``.
    Chapter 6 (the bars under the clock); tests/test_losses.py::test_sequence_mse_is_mean_over_steps_of_squared_norms."""
    y_hat = _as_steps(y_hat, "y_hat")
    y = _as_steps(y, "y")
    check_shapes([(y_hat, ("T", "d_y"), "y_hat"), (y, ("T", "d_y"), "y")])
    return jnp.sum((y_hat - y) ** 2, axis=-1)


def sequence_mse(y_hat, y):
    """Mean over steps of the per-step square error, ``(1/T) Σ_t ‖ŷ_t − y_t‖²``.

    Arguments: ``y_hat``, ``y``: ``(T, d_y)`` or ``(T,)``. Returns a scalar.
    Chapter 6; tests/test_losses.py::test_sequence_mse_is_mean_over_steps_of_squared_norms.
    """
    return jnp.mean(per_step_square_error(y_hat, y))


def _check_label(label, name):
    label = as_array(label, name)
    check_integer(label, name)
    return label


def last_step_cross_entropy(logits, label):
    """``−log softmax(logits[-1])[label]``: only the last step is judged.

    Arguments: ``logits``: ``(T, C)``; ``label``: an integer class in ``[0, C)``.
    Returns a scalar. Chapter 6; tests/test_losses.py::test_last_step_cross_entropy_reads_only_the_last_step.
    """
    logits = as_array(logits, "logits")
    check_inexact(logits, "logits")
    check_shapes([(logits, ("T", "C"), "logits")])
    label = _check_label(label, "label")
    check_shapes([(label, (), "label")])
    return -jax.nn.log_softmax(logits[-1])[label]


def lengths_to_mask(lengths, num_steps):
    """``(B,)`` lengths → ``(B, T)`` float mask, 1 on the first ``lengths[b]`` steps.
    Chapter 6; tests/test_losses.py::test_lengths_to_mask."""
    lengths = as_array(lengths, "lengths")
    check_integer(lengths, "lengths")
    check_shapes([(lengths, ("B",), "lengths")])
    return (jnp.arange(num_steps)[None, :] < lengths[:, None]).astype(jnp.float32)


def _check_mask(mask, batch, num_steps):
    mask = as_array(mask, "mask")
    check_shapes([(mask, (batch, num_steps), "mask")])
    return mask.astype(jnp.float32) if not jnp.issubdtype(mask.dtype, jnp.inexact) else mask


def masked_sequence_mse(y_hat, y, mask):
    """``sequence_mse`` of each sequence over its real steps, averaged over the batch.

    Arguments: ``y_hat``, ``y``: ``(B, T, d_y)``; ``mask``: ``(B, T)``, 1 on real steps and
    0 on padding (each sequence needs at least one real step). Returns a scalar.
    Chapter 6; tests/test_losses.py::test_masked_mse_equals_mean_of_unpadded_losses.
    """
    y_hat = as_array(y_hat, "y_hat")
    y = as_array(y, "y")
    check_inexact(y_hat, "y_hat")
    check_inexact(y, "y")
    bound = check_shapes([(y_hat, ("B", "T", "d_y"), "y_hat"), (y, ("B", "T", "d_y"), "y")])
    mask = _check_mask(mask, bound["B"], bound["T"])
    errors = jnp.sum((y_hat - y) ** 2, axis=-1) * mask
    return jnp.mean(jnp.sum(errors, axis=1) / jnp.sum(mask, axis=1))


def masked_last_step_cross_entropy(logits, labels, mask):
    """``last_step_cross_entropy`` at each sequence's last real step, averaged over the batch.

    Arguments: ``logits``: ``(B, T, C)``; ``labels``: ``(B,)`` integers; ``mask``: ``(B, T)``,
    1 on the real steps (a prefix) and 0 on padding. Returns a scalar.
    Chapter 6; tests/test_losses.py::test_masked_cross_entropy_uses_each_sequence_last_real_step.
    """
    logits = as_array(logits, "logits")
    check_inexact(logits, "logits")
    bound = check_shapes([(logits, ("B", "T", "C"), "logits")])
    labels = _check_label(labels, "labels")
    check_shapes([(labels, (bound["B"],), "labels")])
    mask = _check_mask(mask, bound["B"], bound["T"])
    last = jnp.sum(mask, axis=1).astype(jnp.int32) - 1
    last_logits = jnp.take_along_axis(logits, last[:, None, None], axis=1)[:, 0, :]
    log_probs = jax.nn.log_softmax(last_logits)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))
