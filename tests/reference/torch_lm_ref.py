#!/usr/bin/python3
"""Plain-PyTorch forward passes of GPT-2 and Llama, written from the architecture descriptions (not from
transformers, which Debian does not package), as the oracle for xfmr's models/gpt.cc and models/llama.cc.

Request (JSON file IN): {"model_dir": DIR, "ids": [[int, ...], ...]}
  DIR holds config.json (Hugging Face keys, model_type gpt2 or llama) and model.safetensors (HF names and
  layouts; GPT-2's Conv1D weights are [in, out]; GPT2Model files without the "transformer." prefix work too).
Reply (JSON file OUT): {"logits": {"shape": [B, T, V], "data": [...]}}, computed in float64.

GPT-2 (Radford et al. 2019): h = wte[ids] + wpe[t]; per block h += attn(ln_1(h)), h += mlp(ln_2(h)) with
causal softmax(q k^T / sqrt(D)) attention and GELU (tanh form for "gelu_new"); logits = ln_f(h) wte^T.
Llama (Touvron et al. 2023): h = embed[ids]; per layer h += o(attn(rope(q), rope(k), v)) on rmsnorm(h), with
rotate-half RoPE (HF layout) and k/v heads shared by n_head / n_kv_head query heads;
h += down(silu(gate(x)) * up(x)) on rmsnorm(h); logits = lm_head(norm(h)).
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_ref  # noqa: E402

DT = torch.float64


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    _, _, _, tensors = safetensors_ref.read(os.path.join(model_dir, "model.safetensors"))
    w = {k: torch.tensor(np.array(v[2], dtype=np.float64).reshape(v[1]), dtype=DT) for k, v in tensors.items()}
    return cfg, w


def causal_attention(q, k, v):
    # q: (B, H, T, D), k/v: (B, H, T, D)
    T, D = q.shape[-2], q.shape[-1]
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def gelu(x, approx):
    if approx:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + eps) * w
    return y + b if b is not None else y


def gpt2(cfg, w, ids):
    pre = "transformer." if "transformer.wte.weight" in w else ""
    g = lambda n: w.get(pre + n)  # noqa: E731
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    approx = cfg.get("activation_function", "gelu_new") in ("gelu_new", "gelu_pytorch_tanh")
    B, T = ids.shape
    h = g("wte.weight")[ids] + g("wpe.weight")[:T]

    def conv1d(x, name):  # HF Conv1D: x @ W[in, out] + b
        y = x @ g(name + ".weight")
        b = g(name + ".bias")
        return y + b if b is not None else y

    for l in range(L):
        p = "h.%d." % l
        a = layer_norm(h, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        q, k, v = conv1d(a, p + "attn.c_attn").split(C, dim=-1)
        heads = lambda t: t.view(B, T, H, C // H).transpose(1, 2)  # noqa: E731
        y = causal_attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(B, T, C)
        h = h + conv1d(y, p + "attn.c_proj")
        m = layer_norm(h, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        h = h + conv1d(gelu(conv1d(m, p + "mlp.c_fc"), approx), p + "mlp.c_proj")
    h = layer_norm(h, g("ln_f.weight"), g("ln_f.bias"), eps)
    return h @ g("wte.weight").T


def rms_norm(x, wt, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * wt


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], dim=-1)


def llama(cfg, w, ids):
    C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    Hkv = cfg.get("num_key_value_heads") or H
    D = C // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    B, T = ids.shape
    inv_freq = theta ** (-torch.arange(0, D, 2, dtype=DT) / D)
    ang = torch.arange(T, dtype=DT)[:, None] * inv_freq[None, :]
    ang = torch.cat([ang, ang], dim=-1)  # (T, D)
    cos, sin = torch.cos(ang), torch.sin(ang)
    rope = lambda x: x * cos + rotate_half(x) * sin  # noqa: E731
    h = w["model.embed_tokens.weight"][ids]
    for l in range(L):
        p = "model.layers.%d." % l
        a = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = (a @ w[p + "self_attn.q_proj.weight"].T).view(B, T, H, D).transpose(1, 2)
        k = (a @ w[p + "self_attn.k_proj.weight"].T).view(B, T, Hkv, D).transpose(1, 2)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).view(B, T, Hkv, D).transpose(1, 2)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        y = causal_attention(rope(q), rope(k), v).transpose(1, 2).reshape(B, T, H * D)
        h = h + y @ w[p + "self_attn.o_proj.weight"].T
        m = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = m @ w[p + "mlp.gate_proj.weight"].T
        up = m @ w[p + "mlp.up_proj.weight"].T
        h = h + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rms_norm(h, w["model.norm.weight"], eps)
    return h @ w["lm_head.weight"].T


def main(argv):
    with open(argv[1]) as f:
        req = json.load(f)
    cfg, w = load(req["model_dir"])
    ids = torch.tensor(req["ids"], dtype=torch.long)
    fwd = {"gpt2": gpt2, "llama": llama}[cfg["model_type"]]
    with torch.no_grad():
        logits = fwd(cfg, w, ids)
    with open(argv[2], "w") as f:
        json.dump({"logits": {"shape": list(logits.shape), "data": logits.reshape(-1).tolist()}}, f)


if __name__ == "__main__":
    main(sys.argv)
