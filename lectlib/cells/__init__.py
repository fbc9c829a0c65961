"""One module per recurrent cell. Each has ``init(key, d_x, d_h) -> params`` and
``step(params, h, x) -> h`` for one unbatched step (the LSTM's carry is ``(h, c)``), and
``init_state(d_h)``, the zero state (or carry) a sequence starts from. Weights follow one
notation (Goodfellow et al., ch. 10): ``U`` multiplies the input, ``W`` the previous state,
``b`` is a bias; a gate's weights carry its letter (``U_f``, ``W_f``, ``b_f``)."""
from lectlib.cells import elman, gru, linear_memory, lstm, mgu

__all__ = ["linear_memory", "elman", "mgu", "lstm", "gru"]
