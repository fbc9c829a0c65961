"""Shared test settings: strict JAX (rank promotion raises), as the course's style asks."""
import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
