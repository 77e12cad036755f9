"""Torch reference for ops/view: each entry is fn(inputs, params) -> tensor."""
import torch

OPS = {
    "reshape": lambda x, p: x[0].reshape(p["shape"]),
    "transpose": lambda x, p: x[0].transpose(p["dim0"], p["dim1"]),
    "permute": lambda x, p: x[0].permute(p["dims"]),
    "slice": lambda x, p: x[0].narrow(p["dim"], p["start"], p["length"])[
        (slice(None),) * (p["dim"] % x[0].dim()) + (slice(None, None, p.get("step", 1)),)],
    "expand": lambda x, p: x[0].expand(p["shape"]),
    "sum_to_view": lambda x, p: x[0].expand(p["shape"]) * 1.0,
}
