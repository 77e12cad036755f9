"""Torch reference for nn::Lstm: torch.nn.LSTM (batch_first) with xfmr's parameters copied in by name."""
import torch


def lstm_layers(x, p):
    """inputs: x [B, T, in] then the parameters in named_parameters order (p["names"]); returns the last layer."""
    names = p["names"]
    lstm = torch.nn.LSTM(p["input_size"], p["hidden_size"], p["num_layers"], batch_first=True).to(x[0].dtype)
    # Replace torch's parameters by the inputs themselves so the input gradients flow back to the caller.
    for name, t in zip(names, x[1:]):
        delattr(lstm, name)
        setattr(lstm, name, t)
    lstm._flat_weights = [getattr(lstm, n) for n in lstm._flat_weights_names]
    out, _ = lstm(x[0])
    return out


OPS = {"lstm_layers": lstm_layers}
