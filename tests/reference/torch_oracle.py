#!/usr/bin/python3
"""PyTorch oracle for xfmr's parity tests.

Reads a JSON request {"cases": [{"name", "op", "params", "inputs": [tensor], "grad_out": tensor}]} where a tensor
is {"shape", "dtype", "requires_grad", "data"}; runs OPS[op](inputs, params) from the torch_ops_*.py modules
beside this file; backpropagates grad_out; writes {name: {"out": tensor, "grads": [tensor or null]}}.
Run with Debian's interpreter: /usr/bin/python3 torch_oracle.py IN.json OUT.json
"""
import glob
import importlib.util
import json
import math
import os
import sys

import torch

DTYPES = {"f32": torch.float32, "f64": torch.float64, "i64": torch.int64, "i32": torch.int32}


def load_ops():
    ops = {}
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "torch_ops_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name, fn in mod.OPS.items():
            if name in ops:
                raise SystemExit(f"torch_oracle: op '{name}' defined twice ({path})")
            ops[name] = fn
    return ops


NONFINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def decode(values):
    """JSON has no inf/nan: they travel as strings (see tests/support/torch_parity.h)."""
    return [NONFINITE[v] if isinstance(v, str) else v for v in values]


def encode(values):
    return [v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")) for v in values]


def to_torch(j):
    data = j["data"] if j["dtype"] in ("i64", "i32") else decode(j["data"])
    t = torch.tensor(data, dtype=DTYPES[j["dtype"]]).reshape(j["shape"])
    if j.get("requires_grad"):
        t.requires_grad_(True)
    return t


def to_json(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": encode(t.reshape(-1).double().tolist())}


def main():
    torch.set_num_threads(1)
    ops = load_ops()
    with open(sys.argv[1]) as f:
        req = json.load(f)
    res = {}
    for case in req["cases"]:
        name = case["name"]
        try:
            fn = ops[case["op"]]
            inputs = [to_torch(j) for j in case["inputs"]]
            out = fn(inputs, case["params"])
            grads = [None] * len(inputs)
            if out.requires_grad:
                out.backward(to_torch(case["grad_out"]).to(out.dtype))
                grads = [to_json(x.grad) if x.grad is not None else None for x in inputs]
            res[name] = {"out": to_json(out), "grads": grads}
        except Exception as e:  # reported per case by the C++ side
            res[name] = {"error": f"{type(e).__name__}: {e}"}
    with open(sys.argv[2], "w") as f:
        json.dump(res, f, allow_nan=False)


if __name__ == "__main__":
    main()
