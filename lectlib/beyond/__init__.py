"""Beyond the classic cells (chapter 10), one module per topic:

- ``lectlib.beyond.parallel``: linear recurrences that train in parallel (minGRU, LRU);
- ``lectlib.beyond.generation``: teacher forcing and free-running generation;
- ``lectlib.beyond.arrangements``: bidirectional networks, encoder and decoder;
- ``lectlib.beyond.reservoir``: leaky units and echo-state networks;
- ``lectlib.beyond.hopfield``: Hopfield networks.

Every public function is also available here as ``lectlib.beyond.<name>``, the name the
chapter and the API reference use.
"""
from lectlib.beyond.arrangements import bidirectional, encode_decode
from lectlib.beyond.generation import continue_sequence, generate
from lectlib.beyond.hopfield import (hopfield_energy, hopfield_recall, hopfield_store, hopfield_synchronous,
                                     hopfield_updates)
from lectlib.beyond.parallel import (lru, lru_coefficients, lru_eigenvalues, lru_features, lru_init, lru_states,
                                     mingru, mingru_coefficients, mingru_init, mingru_step)
from lectlib.beyond.reservoir import leaky_step, reservoir_init, ridge_predict, ridge_readout

__all__ = [
    "mingru_init", "mingru_coefficients", "mingru", "mingru_step",
    "lru_init", "lru_eigenvalues", "lru_coefficients", "lru_states", "lru", "lru_features",
    "generate", "continue_sequence",
    "bidirectional", "encode_decode",
    "reservoir_init", "leaky_step", "ridge_readout", "ridge_predict",
    "hopfield_store", "hopfield_energy", "hopfield_updates", "hopfield_recall", "hopfield_synchronous",
]
