"""Torch reference for ops/norm. Inputs: x[, weight][, bias] as flagged by params has_weight / has_bias."""
import torch
import torch.nn.functional as F


def _params(x, p):
    p = p or {}
    rest = list(x[1:])
    w = rest.pop(0) if p.get("has_weight", True) else None
    b = rest.pop(0) if p.get("has_bias", True) else None
    return w, b


def layer_norm(x, p):
    p = p or {}
    w, b = _params(x, p)
    return F.layer_norm(x[0], (x[0].shape[-1],), w, b, p.get("eps", 1e-5))


def rms_norm(x, p):
    p = p or {}
    # torch 1.13 has no rms_norm: Llama's RMSNorm written out (Zhang & Sennrich 2019).
    w, _ = _params(x, {**p, "has_bias": False})
    y = x[0] * torch.rsqrt(x[0].pow(2).mean(-1, keepdim=True) + p.get("eps", 1e-6))
    return y * w if w is not None else y


OPS = {
    "layer_norm": layer_norm,
    "rms_norm": rms_norm,
}
