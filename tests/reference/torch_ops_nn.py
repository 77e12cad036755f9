"""Torch reference for whole nn blocks (inputs: x then the module's parameters in named_parameters order)."""
import math

import torch
import torch.nn.functional as F


def pre_ln_block(x, p):
    """GPT-2 pre-LayerNorm block: x + attn(ln1(x)); h + mlp(ln2(h)), written from the paper's definition."""
    P = dict(zip(p["names"], x[1:]))
    h = x[0]
    B, T, C = h.shape
    H = p["n_head"]
    D = C // H
    a = F.layer_norm(h, (C,), P["ln1.weight"], P["ln1.bias"], 1e-5)
    qkv = F.linear(a, P["attn.qkv.weight"], P["attn.qkv.bias"])
    q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in qkv.split(C, dim=2))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(D)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
    h = h + F.linear(y, P["attn.proj.weight"], P["attn.proj.bias"])
    m = F.layer_norm(h, (C,), P["ln2.weight"], P["ln2.bias"], 1e-5)
    m = F.linear(F.gelu(F.linear(m, P["mlp.fc.weight"], P["mlp.fc.bias"])), P["mlp.proj.weight"], P["mlp.proj.bias"])
    return h + m


OPS = {"pre_ln_block": pre_ln_block}
