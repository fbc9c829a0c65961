"""One module per recurrent cell. Each has ``init(key, d_x, d_h) -> params`` and
``step(params, h, x) -> h`` for one unbatched step (the LSTM's carry is ``(h, c)``)."""
from lectlib.cells import elman, gru, linear_memory, lstm, mgu

__all__ = ["linear_memory", "elman", "mgu", "lstm", "gru"]
