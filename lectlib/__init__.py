"""lectlib: the teaching library of the recurrent-networks course.

Every chapter, homework check and test imports these functions, so a fix lands
everywhere at once. Shapes: ``T`` steps, ``d_x`` input, ``d_h`` state, ``d_y`` output;
functions take one unbatched sequence and ``jax.vmap`` makes batches.
"""
from lectlib import bptt, cells, data, losses, memory, scan_tree, sequences, train
from lectlib.scans import compose_affine, linear_recurrence, run, scan

__all__ = ["scan", "linear_recurrence", "compose_affine", "run", "cells", "losses", "bptt", "data", "memory", "sequences", "scan_tree", "train", "widgets"]


def __getattr__(name):
    # widgets pulls in ipywidgets and matplotlib; import it only when a page asks for it.
    if name == "widgets":
        import importlib

        return importlib.import_module("lectlib.widgets")
    raise AttributeError(f"module 'lectlib' has no attribute {name!r}")
