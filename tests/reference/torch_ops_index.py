"""Torch reference for ops/index: each entry is fn(inputs, params) -> tensor.

Index tensors arrive as int64 or int32 (torch.gather/index_select want int64, so they are widened here).
Split returns several tensors: "split_piece" returns one chunk, "split_cat_reversed" joins the chunks in reverse
order so one comparison covers every output and its gradient routing.
"""
import torch
import torch.nn.functional as F


def _split_arg(p):
    return p["sizes"] if "sizes" in p else p["split_size"]


OPS = {
    "concat": lambda x, p: torch.cat(x, dim=p["dim"]),
    "stack": lambda x, p: torch.stack(x, dim=p["dim"]),
    "gather": lambda x, p: torch.gather(x[0], p["dim"], x[1].long()),
    "index_select": lambda x, p: torch.index_select(x[0], p["dim"], x[1].long().reshape(-1)),
    "one_hot": lambda x, p: F.one_hot(x[0].long(), p["num_classes"]).to(torch.float32),
    "split_piece": lambda x, p: torch.split(x[0], _split_arg(p), dim=p["dim"])[p["piece"]],
    "split_cat_reversed": lambda x, p: torch.cat(list(reversed(torch.split(x[0], _split_arg(p), dim=p["dim"]))),
                                                 dim=p["dim"]),
}
