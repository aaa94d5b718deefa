#!/usr/bin/python3
"""Where the PyTorch reference's time goes: torch.profiler over one step of bench/pytorch_ref.py's model.

Usage: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/pytorch_profile.py train 1024 4 [--attention naive]
       ... bench/pytorch_profile.py forward 4096
train: one AdamW step (forward, backward, update) at l, batch B (learned positions); forward: one
no-grad forward at l, batch 1 (RoPE). Prints the step's wall time, the load average, and the top
operators by self CPU time (shares are what to read on a loaded machine).
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_ref as R  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("case", choices=["train", "forward"])
p.add_argument("len", type=int)
p.add_argument("batch", type=int, nargs="?", default=1)
p.add_argument("--attention", choices=sorted(R.ATTEND), default="blocked")
p.add_argument("--rows", type=int, default=14)
a = p.parse_args()
R.attention = a.attention
torch.set_num_threads(2)
torch.manual_seed(0)
if a.case == "train":
    model = R.Ref(a.len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    ids = torch.randint(0, R.N_V, (a.batch, a.len))

    def step():
        loss = F.cross_entropy(model(ids)[:, :-1].reshape(-1, R.N_V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
else:
    model = R.Ref("rope").eval()
    ids = (torch.arange(a.len) * 31 + 7).remainder(R.N_V)[None, :]

    def step():
        with torch.no_grad():
            model(ids)

step()  # warm-up
t0 = time.perf_counter()
step()
print(f"{a.case} l={a.len} batch={a.batch} attention={a.attention}: step {time.perf_counter() - t0:.3f} s, load average {os.getloadavg()}, {R.blas_info().get('corename')}")
with profile(activities=[ProfilerActivity.CPU]) as prof:
    step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))
