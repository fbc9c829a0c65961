"""Hopfield networks (Hopfield, 1982; chapter 10): patterns of ±1 stored in symmetric
weights, recalled by a recurrence that never raises the energy ``E(s) = −½ sᵀ W s``.

The energy argument needs asynchronous updates, one unit at a time: flipping unit ``i`` to
``sign((W s)_i)`` changes the energy by ``−2 |(W s)_i| < 0`` (``W`` symmetric, zero diagonal).
Updating every unit at once (``hopfield_synchronous``) has no such guarantee: it can
oscillate between two states forever.
"""
import functools

import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_positive_int, check_shapes


def hopfield_store(patterns):
    """Hebbian weights ``W = (1/N) Σ_p p pᵀ`` with a zero diagonal. ``patterns`` ``(P, N)`` of ±1;
    returns ``W`` ``(N, N)``, symmetric.

    Chapter 10; tests/test_beyond_hopfield.py::test_hopfield_store_is_the_hebbian_sum.
    """
    patterns = as_array(patterns, "patterns")
    check_shapes([(patterns, ("P", "N"), "patterns")])
    _check_plus_minus_one(patterns, "patterns")
    W = patterns.T @ patterns / patterns.shape[1]
    return W - jnp.diag(jnp.diag(W))


def hopfield_energy(W, s):
    """``E(s) = −½ sᵀ W s`` for a state ``s`` ``(N,)``, or for each row of ``(..., N)``.

    Chapter 10; tests/test_beyond_hopfield.py::test_asynchronous_updates_never_raise_the_energy.
    """
    return -0.5 * jnp.einsum("...i,ij,...j->...", s, W, s)


def _check_plus_minus_one(array, name):
    if not isinstance(array, jax.core.Tracer) and not bool(jnp.all(jnp.abs(array) == 1)):
        raise ValueError(f"{name} must hold only +1 and -1, received values {jnp.unique(array)[:5].tolist()}")


def _check_recall_inputs(W, state):
    W, state = as_array(W, "W"), as_array(state, "state")
    check_shapes([(W, ("N", "N"), "W"), (state, ("N",), "state")])
    _check_plus_minus_one(state, "state")
    return W, state


def hopfield_updates(key, W, state, num_sweeps):
    """Asynchronous recall: ``num_sweeps`` sweeps, each visiting every unit once in a random
    order drawn from ``key``; a visited unit becomes ``s_i ← sign((W s)_i)`` (a zero field keeps
    its sign), and the next unit already sees the change.

    Arguments: ``key`` a PRNG key; ``W`` ``(N, N)``; ``state`` ``(N,)`` of ±1.
    Returns: ``(num_sweeps · N + 1, N)``: the state before any update and after every
    single-unit update.
    Chapter 10; tests/test_beyond_hopfield.py::test_asynchronous_updates_match_a_plain_loop.
    """
    W, state = _check_recall_inputs(W, state)
    check_positive_int(num_sweeps, "num_sweeps")
    return _asynchronous(key, W, state, num_sweeps)


@functools.partial(jax.jit, static_argnums=3)
def _asynchronous(key, W, state, num_sweeps):
    N = state.shape[0]
    orders = jax.vmap(lambda k: jax.random.permutation(k, N))(jax.random.split(key, num_sweeps))

    def visit(s, i):
        field = W[i] @ s
        s = s.at[i].set(jnp.where(field == 0, s[i], jnp.sign(field)))
        return s, s

    _, history = jax.lax.scan(visit, state, orders.reshape(-1))
    return jnp.concatenate([state[None, :], history])


def hopfield_recall(key, W, state, num_sweeps):
    """Asynchronous recall (``hopfield_updates``), the state after each whole sweep:
    ``(num_sweeps + 1, N)``, row 0 the cue.

    Chapter 10; tests/test_beyond_hopfield.py::test_hopfield_recalls_a_stored_pattern_from_a_corrupted_one.
    """
    history = hopfield_updates(key, W, state, num_sweeps)
    return history[:: state.shape[0]]


def hopfield_synchronous(W, state, num_steps):
    """Synchronous updates, every unit at once: ``s ← sign(W s)`` (ties keep their sign).
    Returns ``(num_steps + 1, N)``, the state before and after every update. Unlike
    asynchronous recall it may raise the energy's value or cycle between two states.

    Chapter 10; tests/test_beyond_hopfield.py::test_synchronous_updates_can_cycle_where_asynchronous_ones_settle.
    """
    W, state = _check_recall_inputs(W, state)
    check_positive_int(num_steps, "num_steps")

    def body(s, _):
        field = W @ s
        s = jnp.where(field == 0, s, jnp.sign(field))
        return s, s

    _, history = jax.lax.scan(body, state, None, length=num_steps)
    return jnp.concatenate([state[None, :], history])
