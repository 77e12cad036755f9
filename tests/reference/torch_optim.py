#!/usr/bin/python3
"""PyTorch oracle for xfmr's optimizer and clipping tests.

Request (JSON): {"cases": [case]}, a case being one of
  {"name", "kind": "optim", "optimizer": "SGD" | "Adam" | "AdamW", "hparams": {...torch kwargs except params/lr...},
   "params": [{"name", "shape", "dtype", "data", "decay"}], "lrs": [lr per step],
   "grads": [[tensor or null per param] per step]}
      -> {"params": [[param data after step s] per param] per step s}
  {"name", "kind": "clip", "max_norm", "grads": [tensor or null per param]}
      -> {"norm": float, "grads": [data or null per param]}
Params with decay=false go to a second param group with weight_decay 0 (how torch spells "no decay on norms and
biases"). A null grad leaves param.grad = None for that step, so torch skips the parameter.
Run with Debian's interpreter: /usr/bin/python3 torch_optim.py IN.json OUT.json
"""
import json
import sys

import torch

DTYPES = {"f32": torch.float32, "f64": torch.float64}


def to_torch(j):
    return torch.tensor(j["data"], dtype=DTYPES[j["dtype"]]).reshape(j["shape"])


def flat(t):
    return t.detach().reshape(-1).double().tolist()


def run_optim(case):
    params = [to_torch(p).requires_grad_(True) for p in case["params"]]
    hp = dict(case["hparams"])
    decay = [p for p, j in zip(params, case["params"]) if j["decay"]]
    no_decay = [p for p, j in zip(params, case["params"]) if not j["decay"]]
    groups = [{"params": decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    cls = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[case["optimizer"]]
    # foreach=False: the single-tensor path, the reference formulation (1.13 defaults to it on CPU anyway).
    opt = cls(groups, lr=case["lrs"][0], foreach=False, **hp)
    history = []
    for lr, grads in zip(case["lrs"], case["grads"]):
        for g in opt.param_groups:
            g["lr"] = lr
        for p, g in zip(params, grads):
            p.grad = None if g is None else to_torch(g)
        opt.step()
        history.append([flat(p) for p in params])
    return {"params": history}


def run_clip(case):
    params = []
    for g in case["grads"]:
        if g is None:
            params.append(torch.zeros(1, requires_grad=True))
        else:
            p = torch.zeros(g["shape"], dtype=DTYPES[g["dtype"]], requires_grad=True)
            p.grad = to_torch(g)
            params.append(p)
    norm = torch.nn.utils.clip_grad_norm_(params, case["max_norm"], norm_type=2.0)
    return {"norm": float(norm), "grads": [None if p.grad is None else flat(p.grad) for p in params]}


def main():
    torch.set_num_threads(1)
    with open(sys.argv[1]) as f:
        req = json.load(f)
    res = {}
    for case in req["cases"]:
        try:
            res[case["name"]] = run_optim(case) if case["kind"] == "optim" else run_clip(case)
        except Exception as e:  # reported per case by the C++ side
            res[case["name"]] = {"error": f"{type(e).__name__}: {e}"}
    with open(sys.argv[2], "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
