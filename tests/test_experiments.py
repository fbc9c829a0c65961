"""The chapter-8/9 model: a cell scanned and read out, trained, and its gradient reach."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import data, experiments


@pytest.mark.parametrize("cell", sorted(experiments.CELLS))
def test_outputs_are_the_cell_run_step_by_step_then_read_out(cell):
    params = experiments.init(jax.random.key(0), cell, 2, 4, 3)
    xs = jax.random.normal(jax.random.key(1), (6, 2))
    module = experiments.CELLS[cell]
    carry = module.init_state(4)
    expected = []
    for x in xs:
        carry = module.step(params["cell"], carry, x)
        h = carry[0] if cell == "lstm" else carry
        expected.append(params["V"] @ h + params["c"])
    np.testing.assert_allclose(experiments.outputs(cell, params, xs), np.stack(expected), rtol=1e-5, atol=1e-6)


def test_input_gradient_norms_match_jax_jacobian():
    params = experiments.init(jax.random.key(2), "elman", 1, 3, 1)
    xs = jax.random.normal(jax.random.key(3), (5, 1))
    jacobian = jax.jacobian(lambda x: experiments.outputs("elman", params, x)[-1, 0])(xs)
    np.testing.assert_allclose(experiments.input_gradient_norms("elman", params, xs),
                               np.linalg.norm(np.asarray(jacobian), axis=-1), rtol=1e-5)


def test_training_reduces_the_loss_and_stops_at_the_target():
    xs, labels = data.moving_blob(0, n=64, T=5)
    result = experiments.train("gru", jax.random.key(4), xs, labels, d_h=8, loss="last_xent", steps=500,
                               metric=lambda c, p: experiments.last_output_accuracy(c, p, xs, labels),
                               target=0.95, eval_every=25)
    assert result.reached_target and float(result.losses[-1]) < float(result.losses[0])


def test_within_tolerance_accuracy_counts_last_outputs_near_their_targets():
    params = experiments.init(jax.random.key(5), "elman", 1, 3, 1)
    xs = jax.random.normal(jax.random.key(6), (4, 7, 1))
    last = np.asarray(experiments.batch_outputs("elman", params, xs)[:, -1, 0])
    targets = last + np.array([0.0, 0.05, -0.2, 0.5])           # two near, two far
    assert experiments.within_tolerance_accuracy("elman", params, xs, targets) == 0.5
    assert experiments.within_tolerance_accuracy("elman", params, xs, targets, tolerance=0.3) == 0.75


def test_unknown_cells_and_losses_are_named():
    with pytest.raises(ValueError, match="cell must be one of"):
        experiments.init(jax.random.key(0), "transformer", 1, 2, 1)
    with pytest.raises(ValueError, match="loss must be one of"):
        experiments.train("elman", jax.random.key(0), jnp.ones((2, 3, 1)), jnp.ones((2, 1)), loss="hinge")


@pytest.mark.parametrize("cell", ["mgu", "lstm", "gru"])
def test_gate_activations_follow_the_run(cell):
    params = experiments.init(jax.random.key(7), cell, 2, 3, 1)
    xs = jax.random.normal(jax.random.key(8), (5, 2))
    module = experiments.CELLS[cell]
    carry, expected = module.init_state(3), []
    for x in xs:
        h = carry[0] if cell == "lstm" else carry
        expected.append(module.gates(params["cell"], h, x))
        carry = module.step(params["cell"], carry, x)
    got = experiments.gate_activations(cell, params, xs)
    assert set(got) == set(expected[0])
    for name in got:
        np.testing.assert_allclose(got[name], np.stack([e[name] for e in expected]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no gates"):
        experiments.gate_activations("elman", experiments.init(jax.random.key(0), "elman", 2, 3, 1), xs)


def test_batch_outputs_are_outputs_per_sequence():
    params = experiments.init(jax.random.key(9), "gru", 2, 3, 2)
    xs = jax.random.normal(jax.random.key(10), (3, 4, 2))
    np.testing.assert_allclose(experiments.batch_outputs("gru", params, xs),
                               np.stack([experiments.outputs("gru", params, x) for x in xs]), rtol=1e-5, atol=1e-6)


def test_last_output_accuracy_counts_argmax_matches():
    params = experiments.init(jax.random.key(11), "elman", 1, 3, 2)
    xs = jax.random.normal(jax.random.key(12), (6, 5, 1))
    predicted = np.argmax(np.asarray(experiments.batch_outputs("elman", params, xs)[:, -1]), axis=-1)
    labels = predicted.copy()
    labels[:2] = 1 - labels[:2]                                   # two of six wrong
    assert experiments.last_output_accuracy("elman", params, xs, labels) == pytest.approx(4 / 6)
