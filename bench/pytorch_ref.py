#!/usr/bin/python3
"""PyTorch reference of ctxlab's benchmark model, for bench/run.mjs (and the numbers of docs/design.md, "Measured before ctxlab").

Model REF (presets.ref; Phuong & Hutter Alg 10, pre-LN GPT-2 block): N_V = 256, L = 4, H = 4, d_e = 128,
d_mlp = 512, d_attn = d_mid = 32, tanh GELU, LayerNorm eps = 1e-5, untied W_u (no bias), 891,648
parameters with learned positions (l_max = 256). Positions: learned W_p for training (l_max = the
training length) and decoding (l_max = 2,048, as bench/generate.mjs), RoPE (half-split / rotate_half
layout, base 1e4, no W_p) for the long forwards, as bench/long-context.mjs.

Cases (one per process; every result is one JSON object on stdout):
  train    --len 256 --batch 16 [--steps 4 --warmup 1]: AdamW (betas 0.9/0.95, eps 1e-8, weight decay
           0.1, clip 1, as dTraining's defaults), mean next-token loss; tokens/s = B*l / step time
           (forward, backward, clip, update; the batch is made before the clock starts), median of steps.
  forward  --len 16384 [--runs N]: logits of one sequence (batch 1, RoPE), attention in query blocks
           of <= 1,024 rows that see the causal key prefix [0, block end) (docs/design.md's "chunked by
           1,024 queries"); past l ~ 21k the rows are capped so one block's ~3 [H, rows, l_k] float32
           tensors stay under 1 GiB (341 rows at l = 64k, as ctxlab's 256 MiB-per-head budget gives).
           Peak memory = the process's RSS high-water (ru_maxrss, torch and Python included), so each
           size needs a fresh process.
  decode   [--prompt 1024 --tokens 1024]: greedy decoding with a preallocated KV cache (written in
           place: no per-step torch.cat copying the cache); tokens/s over the first 128 generated
           tokens (the prompt pass excluded), and the median per-token time near position 1,024
           (tokens 1-64) and near the end (the last 64). Reading the cache is O(l) per token: past
           l ~ 1,024 one layer's keys (4 x l x 32 floats) outgrow the L2 cache and steps slow down.
  all      every case above, forwards in fresh child processes; --quick for a short version.

Threads: torch.set_num_threads(2) (the machine's 2 cores; --threads N to change); decoding's one-token
steps run on --decode-threads (default 1, faster here: see the flag).
Without torch (Debian: apt-get install -y python3-torch) it prints {"skipped": "..."} and exits 0.
Usage: /usr/bin/python3 bench/pytorch_ref.py <case> [options]
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the caller shows the PyTorch column as skipped
    print(json.dumps({"skipped": "python3-torch not installed"}))
    sys.exit(0)

N_V, L, H, D_E, D_MLP, EPS = 256, 4, 4, 128, 512, 1e-5
D_HEAD = D_E // H
MAX_BLOCK_BYTES = 2**30  # one block's working set, ~3 float32 [H, rows, l_k] tensors, at most this (binds past l ~ 21k)


def rope_tables(start, length, device=None):
    """cos/sin [length, D_HEAD/2] of m*theta_j, theta_j = 1e4^(-2j/d), computed in float64 like ctxlab."""
    inv = 1.0 / (10000.0 ** (torch.arange(0, D_HEAD, 2, dtype=torch.float64) / D_HEAD))
    ang = torch.arange(start, start + length, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().float(), ang.sin().float()


def rotate(x, cos, sin):
    """Half-split RoPE on x [..., l, d]: pairs (j, j + d/2)."""
    a, b = x[..., : D_HEAD // 2], x[..., D_HEAD // 2 :]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def block_rows(l_k, chunk=1024):
    return max(16, min(chunk, MAX_BLOCK_BYTES // (4 * 3 * H * l_k)))


TRAIN_ROWS = 256  # query rows per block when autograd records (training): see attend()


_tri = {}


def causal_tri(n):
    """[n, n] additive causal bias (0 on and below the diagonal, -inf above), cached per n."""
    if n not in _tri:
        _tri[n] = torch.full((n, n), float("-inf")).triu_(1)
    return _tri[n]


def attend(q, k, v, q_start):
    """Causal attention of queries at positions q_start.. over keys 0..l_k-1 (q, k, v: [B*H, l, d], contiguous).

    The formulation chosen for PyTorch 1.13 on CPU (docs/performance.md, "The PyTorch reference"):
    query blocks, each seeing only the key prefix it may attend to; per block the scaled scores written
    by one in-place baddbmm_ (alpha = 1/sqrt(d), beta = 0) into a fresh tensor, the causal mask added
    only on the block's diagonal square ([rows, rows] of -inf above the diagonal, broadcast over the
    B*H heads: the keys before the block need no mask), the fused softmax, one bmm with the values.
    Blocks of <= 1,024 rows for forward-only passes and of 256 rows under autograd (training), so the
    scores a block saves for backward stay a few MiB. The previous single-pass formulation is
    --attention naive (A/B in docs/performance.md).
    """
    BH, lq, _ = q.shape
    lk = k.shape[1]
    scale = 1.0 / math.sqrt(D_HEAD)
    if lq == 1:  # decoding: one query sees every key
        return torch.bmm(torch.softmax(torch.bmm(q, k.transpose(1, 2)).mul_(scale), dim=-1), v)
    rows = TRAIN_ROWS if torch.is_grad_enabled() else (lq if lq <= 1024 else block_rows(lk))
    out = []
    for t0 in range(0, lq, rows):
        t1 = min(lq, t0 + rows)
        k_end = q_start + t1  # keys the last query of the block may see
        rows_b = t1 - t0
        # scale * q.kT written straight into a fresh tensor (beta = 0: nothing read, nothing copied)
        s = torch.empty(BH, rows_b, k_end).baddbmm_(q[:, t0:t1], k[:, :k_end].transpose(1, 2), beta=0, alpha=scale)
        # causal mask: only the last rows_b columns (keys q_start + t0 .. k_end - 1) can lie after a query
        s[:, :, k_end - rows_b :] += causal_tri(rows_b)
        out.append(torch.bmm(torch.softmax(s, dim=-1), v[:, :k_end]))
        del s
    return out[0] if len(out) == 1 else torch.cat(out, dim=1)


def attend_naive(q, k, v, q_start):
    """The previous reference (until 2026-12-03): one [B*H, l, l] score tensor from torch.matmul of q * scale
    (a copy), a causal mask built by comparison and masked_fill_ on the scores; query blocks of <= 1,024
    rows only past l = 1,024. Kept for the A/B (--attention naive)."""
    lq = q.shape[1]
    lk = k.shape[1]
    scale = 1.0 / math.sqrt(D_HEAD)
    rows = lq if lq <= 1024 else block_rows(lk)
    out = []
    for t0 in range(0, lq, rows):
        t1 = min(lq, t0 + rows)
        k_end = q_start + t1
        s = torch.matmul(q[:, t0:t1] * scale, k[:, :k_end].transpose(-1, -2))
        if t1 - t0 > 1:
            qpos = torch.arange(q_start + t0, q_start + t1)[:, None]
            kpos = torch.arange(k_end)[None, :]
            s.masked_fill_(kpos > qpos, float("-inf"))
        out.append(torch.matmul(torch.softmax(s, dim=-1), v[:, :k_end]))
        del s
    return out[0] if len(out) == 1 else torch.cat(out, dim=1)


ATTEND = {"blocked": attend, "naive": attend_naive}
attention = "blocked"  # set by --attention


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D_E, eps=EPS)
        self.qkv = torch.nn.Linear(D_E, 3 * D_E)  # W_q, W_k, W_v with their biases, side by side
        self.o = torch.nn.Linear(D_E, D_E)
        self.ln2 = torch.nn.LayerNorm(D_E, eps=EPS)
        self.mlp1 = torch.nn.Linear(D_E, D_MLP)
        self.mlp2 = torch.nn.Linear(D_MLP, D_E)

    def forward(self, x, rope, start, kv):
        B, l, _ = x.shape
        # one copy to the [3, B*H, l, d] layout whose heads are contiguous for bmm/baddbmm
        q, k, v = self.qkv(self.ln1(x)).view(B, l, 3, H, D_HEAD).permute(2, 0, 3, 1, 4).reshape(3, B * H, l, D_HEAD)
        if kv is not None:  # preallocated cache: keys before rotation (as ctxlab), values; written in place
            if "k" not in kv:
                kv["k"], kv["v"] = (torch.empty(B * H, kv["size"], D_HEAD) for _ in range(2))
            kv["k"][:, start : start + l], kv["v"][:, start : start + l] = k, v
            k, v = kv["k"][:, : start + l], kv["v"][:, : start + l]
        if rope:
            cq, sq = rope_tables(start, l)
            ck, sk = rope_tables(0, k.shape[1])
            q, k = rotate(q, cq, sq), rotate(k, ck, sk)
        y = ATTEND[attention](q, k, v, start).view(B, H, l, D_HEAD).transpose(1, 2).reshape(B, l, D_E)
        x = x + self.o(y)
        return x + self.mlp2(F.gelu(self.mlp1(self.ln2(x)), approximate="tanh"))


class Ref(torch.nn.Module):
    def __init__(self, positions):
        super().__init__()
        self.positions = positions  # "rope" or l_max of the learned W_p
        self.W_e = torch.nn.Embedding(N_V, D_E)
        self.W_p = None if positions == "rope" else torch.nn.Embedding(positions, D_E)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.ln_f = torch.nn.LayerNorm(D_E, eps=EPS)
        self.W_u = torch.nn.Linear(D_E, N_V, bias=False)
        for p in self.parameters():  # GPT-2 initialisation (timing does not depend on it)
            if p.dim() > 1:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, ids, start=0, cache=None):
        l = ids.shape[1]
        x = self.W_e(ids)
        if self.W_p is not None:
            x = x + self.W_p(torch.arange(start, start + l))
        for i, b in enumerate(self.blocks):
            x = b(x, self.W_p is None, start, None if cache is None else cache[i])
        return self.W_u(self.ln_f(x))


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: KiB


def case_train(a):
    torch.manual_seed(0)
    model = Ref(a.len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    rates = []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(0, N_V, (a.batch, a.len), generator=g)
        t0 = time.perf_counter()
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, N_V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        dt = time.perf_counter() - t0
        if step >= a.warmup:
            rates.append(a.batch * a.len / dt)
    n = sum(p.numel() for p in model.parameters())
    return {"case": "train", "l": a.len, "batch": a.batch, "params": n, "steps": a.steps,
            "tokens_per_s": statistics.median(rates), "steps_tokens_per_s": [round(r) for r in rates],
            "peak_rss_mib": peak_rss_mib()}


@torch.no_grad()
def case_forward(a):
    torch.manual_seed(0)
    model = Ref("rope").eval()
    ids = (torch.arange(a.len) * 31 + 7).remainder(N_V)[None, :]
    small = a.len <= 4096
    model(ids if small else ids[:, :256])  # warm-up, as bench/long-context.mjs
    runs = a.runs or (3 if small else 1)
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        model(ids)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"case": "forward", "l": a.len, "batch": 1, "positions": "rope", "block_rows": block_rows(a.len) if a.len > 1024 else a.len,
            "forward_s": statistics.median(times), "times_s": [round(t, 3) for t in times], "cpu_s": statistics.median(cpu),
            "peak_rss_mib": peak_rss_mib()}


@torch.no_grad()
def case_decode(a):
    torch.manual_seed(0)
    model = Ref(a.prompt + a.tokens).eval()
    prompt = ((torch.arange(a.prompt) * 31 + 7).remainder(N_V))[None, :]

    def generate(n):
        cache = [{"size": a.prompt + a.tokens} for _ in range(L)]
        t0 = time.perf_counter()
        nxt = model(prompt, 0, cache)[:, -1].argmax(-1, keepdim=True)
        stamps = [time.perf_counter()]
        torch.set_num_threads(a.decode_threads)  # one-token steps: see --decode-threads
        for i in range(1, n):
            nxt = model(nxt, a.prompt + i - 1, cache)[:, -1].argmax(-1, keepdim=True)
            stamps.append(time.perf_counter())
        torch.set_num_threads(a.threads)
        return stamps[0] - t0, [stamps[i] - stamps[i - 1] for i in range(1, len(stamps))]

    generate(4)  # warm-up
    prompt_s, per = generate(a.tokens)
    first = per[:127]
    return {"case": "decode", "prompt": a.prompt, "tokens": a.tokens, "positions": "learned",
            "prompt_pass_s": prompt_s, "tokens_per_s": len(first) / sum(first),
            "per_token_ms_start": 1000 * statistics.median(per[:64]), "per_token_ms_end": 1000 * statistics.median(per[-64:]),
            "position_start": a.prompt + 1, "position_end": a.prompt + a.tokens - 32, "peak_rss_mib": peak_rss_mib()}


def blas_info():
    """Which BLAS torch's libblas.so.3 is, and for OpenBLAS which kernel family (core) it runs."""
    import ctypes
    try:
        lib = ctypes.CDLL("libblas.so.3")  # the library torch already loaded (Debian's alternatives)
        for name in ("openblas_get_corename", "openblas_get_config"):
            getattr(lib, name).restype = ctypes.c_char_p
        return {"blas": "OpenBLAS", "corename": lib.openblas_get_corename().decode(), "config": lib.openblas_get_config().decode(),
                "blas_threads": lib.openblas_get_num_threads()}
    except (OSError, AttributeError):
        return {"blas": "not OpenBLAS (libblas.so.3 is probably the reference BLAS: apt-get install libopenblas0-pthread)"}


def case_probe(a):
    """matMul throughput of this process: [1024, 1024] x [1024, 1024] float32, median of 10 (GFLOP/s)."""
    x, y = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        x @ y
    ts = []
    for _ in range(10):
        t0 = time.perf_counter()
        x @ y
        ts.append(time.perf_counter() - t0)
    cfg = [p for p in torch.__config__.show().replace(",", "\n").split("\n") if "BLAS_INFO" in p or "CPU capability" in p]
    return {"case": "probe", "matmul_1024_gflops": 2 * 1024**3 / statistics.median(ts) / 1e9, "torch_config": [c.strip() for c in cfg]}


def case_all(a):
    """Every case; each forward size in its own process so that its peak RSS is its own."""
    me = [sys.executable, os.path.abspath(__file__), "--threads", str(a.threads)]
    run = lambda *args: json.loads(subprocess.run(me + list(args), capture_output=True, text=True, check=True).stdout)
    steps = ["--steps", "2"] if a.quick else []
    sizes = [1024, 4096, 16384] if a.quick else [1024, 4096, 16384, 65536]
    return {"case": "all", "train": [run("train", "--len", "256", "--batch", "16", *steps), run("train", "--len", "1024", "--batch", "4", *steps)],
            "forward": [run("forward", "--len", str(n)) for n in sizes],
            "decode": run("decode", *(["--tokens", "256"] if a.quick else []))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("case", choices=["train", "forward", "decode", "probe", "all"])
    p.add_argument("--len", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--runs", type=int, default=0, help="forward runs (default 3 for l <= 4096, else 1)")
    p.add_argument("--prompt", type=int, default=1024)
    p.add_argument("--tokens", type=int, default=1024)
    p.add_argument("--threads", type=int, default=2)
    # One-token decode steps are chains of small matrix-vector products, where waking OpenBLAS's and
    # OpenMP's second thread costs more than it saves: 1 thread measured 1,440 tokens/s against 1,257
    # with 2 on this model (and 0.043 against 0.171 s per token at SmolLM-135M's shape): the prompt pass
    # keeps --threads, the token steps use --decode-threads.
    p.add_argument("--decode-threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--attention", choices=sorted(ATTEND), default="blocked", help="blocked (default) or the previous naive formulation")
    a = p.parse_args()
    global attention
    attention = a.attention
    torch.set_num_threads(a.threads)
    out = {"train": case_train, "forward": case_forward, "decode": case_decode, "probe": case_probe, "all": case_all}[a.case](a)
    out["torch"] = torch.__version__
    out["threads"] = torch.get_num_threads()
    out["load_1min"] = round(os.getloadavg()[0], 2)
    out["attention"] = attention
    out.update(blas_info())
    out["openblas_env"] = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
