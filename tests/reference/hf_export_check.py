#!/usr/bin/python3
"""Checks that a model folder xfmr exported (config.json + model.safetensors) is what Hugging Face transformers
expects of GPT2LMHeadModel / LlamaForCausalLM, then runs transformers' forward, re-implemented here on the
tensors looked up by their HF names, and greedy decoding. Only Debian's torch and numpy; the safetensors file
is read by the few lines below (format: u64 little-endian header size N, N bytes of JSON
{name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the data buffer).

What "HF expects" is taken from transformers' documentation and model code, restated here from the
architecture (not copied):
  GPT-2: config keys vocab_size, n_positions, n_embd, n_layer, n_head, activation_function,
    layer_norm_epsilon; parameter names transformer.{wte,wpe,ln_f}.*, transformer.h.N.{ln_1,attn.c_attn,
    attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias}, every one present (GPT2 always has biases);
    Conv1D weights stored [in, out] (c_attn [C, 3C], c_fc [C, 4C], c_proj [4C, C]); lm_head tied to wte.
  Llama: config keys vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
    num_key_value_heads, rms_norm_eps, rope_theta, max_position_embeddings, hidden_act = silu;
    model.embed_tokens.weight, model.layers.N.{input_layernorm,post_attention_layernorm}.weight,
    self_attn.{q,k,v,o}_proj.weight, mlp.{gate,up,down}_proj.weight as nn.Linear [out, in], model.norm.weight,
    lm_head.weight unless tie_word_embeddings. RoPE is applied rotate-half style (LlamaRotaryEmbedding +
    rotate_half) straight on the stored q/k projections: HF checkpoints hold q_proj/k_proj already permuted
    from Meta's interleaved layout, so a model that itself rotates halves exports its weights unpermuted.
  safetensors: "__metadata__" has format "pt" (from_pretrained refuses files without it).

Request (JSON file IN): {"model_dir": DIR, "ids": [[...], ...], "prompt": [...], "n_new": N}
Reply (JSON file OUT): {"logits": {"shape", "data"}, "greedy": [N ids], "problems": [str, ...]}
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DT = torch.float64
NP = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "BF16": "<u2"}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    buf = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        a = np.frombuffer(buf[b:end], dtype=NP[e["dtype"]])
        if e["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = (e["dtype"], torch.tensor(a.astype(np.float64).reshape(e["shape"]), dtype=DT))
    return meta, out


def expected_gpt2(cfg):
    C, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    inner = cfg.get("n_inner") or 4 * C
    want = {"transformer.wte.weight": [V, C], "transformer.wpe.weight": [P, C],
            "transformer.ln_f.weight": [C], "transformer.ln_f.bias": [C]}
    for l in range(L):
        p = "transformer.h.%d." % l
        want.update({p + "ln_1.weight": [C], p + "ln_1.bias": [C], p + "ln_2.weight": [C], p + "ln_2.bias": [C],
                     p + "attn.c_attn.weight": [C, 3 * C], p + "attn.c_attn.bias": [3 * C],
                     p + "attn.c_proj.weight": [C, C], p + "attn.c_proj.bias": [C],
                     p + "mlp.c_fc.weight": [C, inner], p + "mlp.c_fc.bias": [inner],
                     p + "mlp.c_proj.weight": [inner, C], p + "mlp.c_proj.bias": [C]})
    optional = {"lm_head.weight": [V, C]}  # tied to wte: may be saved or not
    return want, optional


def expected_llama(cfg):
    C, L, V, I = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    H = cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads") or H
    D = C // H
    want = {"model.embed_tokens.weight": [V, C], "model.norm.weight": [C]}
    if not cfg.get("tie_word_embeddings", False):
        want["lm_head.weight"] = [V, C]
    for l in range(L):
        p = "model.layers.%d." % l
        want.update({p + "input_layernorm.weight": [C], p + "post_attention_layernorm.weight": [C],
                     p + "self_attn.q_proj.weight": [H * D, C], p + "self_attn.k_proj.weight": [Hkv * D, C],
                     p + "self_attn.v_proj.weight": [Hkv * D, C], p + "self_attn.o_proj.weight": [C, H * D],
                     p + "mlp.gate_proj.weight": [I, C], p + "mlp.up_proj.weight": [I, C],
                     p + "mlp.down_proj.weight": [C, I]})
    return want, {}


REQUIRED = {
    "gpt2": ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "activation_function",
             "layer_norm_epsilon"],
    "llama": ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "rms_norm_eps", "rope_theta", "max_position_embeddings", "hidden_act"],
}
ARCH = {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM"}


def check(cfg, meta, tensors):
    problems = []
    mt = cfg.get("model_type")
    if mt not in REQUIRED:
        return ["model_type %r is neither gpt2 nor llama" % mt]
    for k in REQUIRED[mt]:
        if k not in cfg:
            problems.append("config.json lacks %r" % k)
    if ARCH[mt] not in cfg.get("architectures", []):
        problems.append("config.json architectures %r lacks %s" % (cfg.get("architectures"), ARCH[mt]))
    if mt == "llama" and cfg.get("hidden_act") != "silu":
        problems.append("hidden_act %r is not silu" % cfg.get("hidden_act"))
    if meta.get("format") != "pt":
        problems.append("safetensors __metadata__ format is %r, transformers wants 'pt'" % meta.get("format"))
    if problems:
        return problems
    want, optional = (expected_gpt2 if mt == "gpt2" else expected_llama)(cfg)
    for name, shape in want.items():
        if name not in tensors:
            problems.append("missing tensor %s" % name)
        elif list(tensors[name][1].shape) != shape:
            problems.append("%s has shape %s, HF expects %s" % (name, list(tensors[name][1].shape), shape))
    for name, (dt, t) in tensors.items():
        if name not in want and name not in optional:
            problems.append("unexpected tensor %s" % name)
        if dt not in ("F32", "F16", "BF16"):
            problems.append("%s has dtype %s" % (name, dt))
    return problems


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def attend(q, k, v):
    T, D = q.shape[-2], q.shape[-1]
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def gpt2_forward(cfg, w, ids):
    C, H = cfg["n_embd"], cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    act = cfg["activation_function"]
    B, T = ids.shape

    def gelu(x):
        if act in ("gelu_new", "gelu_pytorch_tanh"):
            return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        assert act == "gelu", act
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

    def conv1d(x, n):  # y = x W + b with W [in, out]
        return torch.addmm(w[n + ".bias"], x.reshape(-1, x.shape[-1]), w[n + ".weight"]).reshape(
            *x.shape[:-1], -1)

    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)]
    for l in range(cfg["n_layer"]):
        p = "transformer.h.%d." % l
        a = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = conv1d(a, p + "attn.c_attn").split(C, dim=2)
        split = lambda t: t.view(B, T, H, C // H).permute(0, 2, 1, 3)  # noqa: E731
        y = attend(split(q), split(k), split(v)).permute(0, 2, 1, 3).reshape(B, T, C)
        h = h + conv1d(y, p + "attn.c_proj")
        m = layer_norm(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = h + conv1d(gelu(conv1d(m, p + "mlp.c_fc")), p + "mlp.c_proj")
    h = layer_norm(h, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    head = w.get("lm_head.weight", w["transformer.wte.weight"])
    return h @ head.T


def llama_forward(cfg, w, ids):
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg["num_key_value_heads"]
    D = C // H
    eps = cfg["rms_norm_eps"]
    B, T = ids.shape
    # LlamaRotaryEmbedding: inv_freq_i = theta^(-2i/D), cos/sin of [freqs, freqs] (the two halves repeat).
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=DT) / D))
    freqs = torch.outer(torch.arange(T, dtype=DT), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rotate_half(x):
        x1, x2 = x[..., : D // 2], x[..., D // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def rms(x, wt):
        return wt * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def repeat_kv(x):  # [B, Hkv, T, D] -> [B, H, T, D], kv head j serves query heads j*g .. j*g+g-1
        g = H // Hkv
        return x[:, :, None].expand(B, Hkv, g, T, D).reshape(B, H, T, D)

    h = w["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        x = rms(h, w[p + "input_layernorm.weight"])
        q = (x @ w[p + "self_attn.q_proj.weight"].T).view(B, T, H, D).transpose(1, 2)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).view(B, T, Hkv, D).transpose(1, 2)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).view(B, T, Hkv, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        y = attend(q, repeat_kv(k), repeat_kv(v)).transpose(1, 2).reshape(B, T, C)
        h = h + y @ w[p + "self_attn.o_proj.weight"].T
        x = rms(h, w[p + "post_attention_layernorm.weight"])
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rms(h, w["model.norm.weight"])
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return h @ head.T


def main(argv):
    with open(argv[1]) as f:
        req = json.load(f)
    d = req["model_dir"]
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    meta, tensors = read_safetensors(os.path.join(d, "model.safetensors"))
    problems = check(cfg, meta, tensors)
    reply = {"problems": problems}
    if not problems:
        w = {k: t for k, (_, t) in tensors.items()}
        fwd = gpt2_forward if cfg["model_type"] == "gpt2" else llama_forward
        with torch.no_grad():
            logits = fwd(cfg, w, torch.tensor(req["ids"], dtype=torch.long))
            seq = list(req["prompt"])
            for _ in range(req["n_new"]):
                nxt = fwd(cfg, w, torch.tensor([seq], dtype=torch.long))[0, -1]
                seq.append(int(torch.argmax(nxt)))
        reply["logits"] = {"shape": list(logits.shape), "data": logits.reshape(-1).tolist()}
        reply["greedy"] = seq[len(req["prompt"]):]
    with open(argv[2], "w") as f:
        json.dump(reply, f)


if __name__ == "__main__":
    main(sys.argv)
