"""Torch reference for ops/softmax."""
import torch

OPS = {
    "softmax": lambda x, p: torch.softmax(x[0], p["dim"]),
    "log_softmax": lambda x, p: torch.log_softmax(x[0], p["dim"]),
}
