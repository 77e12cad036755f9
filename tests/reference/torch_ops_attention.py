"""Torch reference for ops/attention, ops/rope and ops/conv1d: each entry is fn(inputs, params) -> tensor.

Written as explicit math (torch 1.13 has no F.scaled_dot_product_attention), independent of the C++ code.
"""
import math

import torch
import torch.nn.functional as F


def sdpa(x, p):
    """softmax(q kᵀ * scale + mask) v; inputs q, k, v[, additive mask]; kv heads repeated for GQA."""
    p = p or {}
    q, k, v = x[0], x[1], x[2]
    hq, hkv, t, s = q.shape[1], k.shape[1], q.shape[2], k.shape[2]
    k = k.repeat_interleave(hq // hkv, dim=1)
    v = v.repeat_interleave(hq // hkv, dim=1)
    scale = p.get("scale", 0.0) or 1.0 / math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-1, -2) * scale
    if len(x) > 3:  # JSON has no -inf: the C++ side sends blocked entries as -1e30
        scores = scores + x[3].masked_fill(x[3] <= -1e30, float("-inf"))
    if p.get("causal", False):
        keep = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)  # aligned to the end of the keys
        scores = scores.masked_fill(~keep, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def packed_self_attention(x, p):
    """qkv [B, T, 3C] -> split into q, k, v, heads [B, H, T, D] -> sdpa -> heads merged back to [B, T, C]."""
    qkv, h = x[0], p["n_head"]
    b, t, c3 = qkv.shape
    c = c3 // 3
    q, k, v = (z.reshape(b, t, h, c // h).transpose(1, 2) for z in qkv.split(c, dim=2))
    y = sdpa([q, k, v], {"causal": p.get("causal", False)})
    return y.transpose(1, 2).reshape(b, t, c)


def rope_ref(x, p):
    """Rotary embedding of x [..., T, D] at positions pos_offset + t, pairs per style."""
    x = x[0]
    t, d = x.shape[-2], x.shape[-1]
    inv_freq = p["theta"] ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = torch.outer(torch.arange(p["pos_offset"], p["pos_offset"] + t, dtype=torch.float64), inv_freq)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    if p["style"] == "half":  # HF rotate_half
        cos2, sin2 = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return x * cos2 + torch.cat([-x2, x1], -1) * sin2
    # interleaved: complex multiplication of (x[2i] + i x[2i+1]) by e^{i angle}, as in Meta's Llama code
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rot = torch.polar(torch.ones_like(ang), ang)
    return torch.view_as_real(xc * rot).reshape(x.shape).to(x.dtype)


def causal_conv(x, p):
    """Mamba-style depthwise causal conv: x [B, T, C], w [C, K], optional b [C]."""
    xs, w = x[0], x[1]
    b = x[2] if len(x) > 2 else None
    c, k = w.shape
    y = F.conv1d(F.pad(xs.transpose(1, 2), (k - 1, 0)), w.unsqueeze(1), b, groups=c)
    return y.transpose(1, 2)


OPS = {
    "sdpa": sdpa,
    "packed_self_attention": packed_self_attention,
    "rope_ref": rope_ref,
    "causal_depthwise_conv1d": causal_conv,
}
