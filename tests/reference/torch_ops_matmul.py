"""Torch reference for ops/matmul: each entry is fn(inputs, params) -> tensor."""
import torch
import torch.nn.functional as F

OPS = {
    "matmul": lambda x, p: torch.matmul(x[0], x[1]),
    # inputs: x, weight[, bias]
    "linear": lambda x, p: F.linear(x[0], x[1], x[2] if len(x) > 2 else None),
}
