"""Torch reference for ops/reduce: each entry is fn(inputs, params) -> tensor. Names carry a "red_" prefix."""
import torch

OPS = {
    "red_sum_all": lambda x, p: torch.sum(x[0]),
    "red_sum": lambda x, p: torch.sum(x[0], dim=p["dims"], keepdim=p["keepdim"]),
    "red_mean_all": lambda x, p: torch.mean(x[0]),
    "red_mean": lambda x, p: torch.mean(x[0], dim=p["dims"], keepdim=p["keepdim"]),
    "red_max": lambda x, p: torch.max(x[0], dim=p["dim"], keepdim=p["keepdim"]).values,
    "red_var": lambda x, p: torch.var(x[0], dim=p["dims"], keepdim=p["keepdim"], correction=p["correction"]),
}
