"""Torch reference for ops/elementwise: each entry is fn(inputs, params) -> tensor. Names carry an "ew_" prefix."""
import torch

OPS = {
    "ew_add": lambda x, p: x[0] + x[1],
    "ew_sub": lambda x, p: x[0] - x[1],
    "ew_mul": lambda x, p: x[0] * x[1],
    "ew_div": lambda x, p: x[0] / x[1],
    "ew_pow": lambda x, p: torch.pow(x[0], x[1]),
    "ew_add_scalar": lambda x, p: x[0] + p["s"],
    "ew_sub_scalar": lambda x, p: x[0] - p["s"],
    "ew_rsub_scalar": lambda x, p: p["s"] - x[0],
    "ew_mul_scalar": lambda x, p: x[0] * p["s"],
    "ew_div_scalar": lambda x, p: x[0] / p["s"],
    "ew_rdiv_scalar": lambda x, p: p["s"] / x[0],
    "ew_pow_scalar": lambda x, p: x[0] ** p["e"],
    "ew_neg": lambda x, p: -x[0],
    "ew_exp": lambda x, p: torch.exp(x[0]),
    "ew_log": lambda x, p: torch.log(x[0]),
    "ew_sqrt": lambda x, p: torch.sqrt(x[0]),
    "ew_rsqrt": lambda x, p: torch.rsqrt(x[0]),
    "ew_abs": lambda x, p: torch.abs(x[0]),
    "ew_clamp": lambda x, p: torch.clamp(x[0], p["lo"], p["hi"]),
    "ew_where": lambda x, p: torch.where(x[0] != 0, x[1], x[2]),
}
