"""Torch reference for ops/activation: each entry is fn(inputs, params) -> tensor. Names carry an "act_" prefix."""
import torch
import torch.nn.functional as F


def _gelu(x, p):
    return F.gelu(x[0], approximate=(p or {}).get("approximate", "none"))


def _softplus(x, p):
    p = p or {}  # an empty C++ params object arrives as null
    return F.softplus(x[0], beta=p.get("beta", 1.0), threshold=p.get("threshold", 20.0))


OPS = {
    "act_relu": lambda x, p: F.relu(x[0]),
    "act_gelu": _gelu,
    "act_silu": lambda x, p: F.silu(x[0]),
    "act_sigmoid": lambda x, p: torch.sigmoid(x[0]),
    "act_tanh": lambda x, p: torch.tanh(x[0]),
    "act_softplus": _softplus,
}
