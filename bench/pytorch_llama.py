#!/usr/bin/python3
"""PyTorch reference at real-model scale: a Hugging Face Llama directory (bench/llama-shape.mjs writes one of
SmolLM-135M's shape), for bench/scale-135m.mjs.

The model is the repository's independent reference, test/reference/hf_reference.py (written from the
published Hugging Face modeling semantics, not from ctxlab's code): its safetensors reader and its `forward`
run the prefill, the parity logits and the fine-tuning step; here it runs in float32 (float64 for `logits
--dtype float64`). Decoding adds a KV cache to the same building blocks (rms_norm, linear, rotate_half,
rope_params): a preallocated cache written in place, grouped-query attention by reshaping the query heads
over the key/value heads (no repeat of the cache), logits of the last row only, and single-row products as
matrix-vector products (`lin`: PyTorch 1.13's mm sends a [1, in] row to sgemm, which repacks the weight).

Cases (one per process; one JSON object on stdout; peak_rss_mib = the process's RSS high-water, ru_maxrss):
  load     DIR                     seconds to read config.json + model.safetensors into float32 tensors
  prefill  DIR --len L [--runs 2]  logits of one sequence of L seeded random ids (all L rows, as a forward
                                   pass); tokens/s = L / seconds, the best of --runs after a warm-up at L = 64
  decode   DIR --prompt 2048 --tokens 32   greedy decoding with the KV cache after the prompt; tokens/s over the
                                   generated tokens (the prompt pass excluded, reported apart); also the
                                   largest |difference| between cached and recomputed logits at a 24-token prompt
  train    DIR --len 512 [--steps 3]      AdamW steps (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on the
                                   projection matrices, clip 1, lr 1e-3 as bench/scale-135m.mjs) on one
                                   repeated sequence of L ids: step seconds (forward, backward, clip, update),
                                   the best of the steps after the first, and the losses
  logits   DIR --ids-file F --out G [--rows K] [--dtype float32|float64]   the last K rows (default all) of
                                   the logits of the ids in F (a JSON list) as raw little-endian float32 into G

Threads: torch.set_num_threads(2) (--threads N); decoding's one-token steps on --decode-threads (default 1). The OpenBLAS variables OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
are the caller's business (bench/scale-135m.mjs unsets them for this process only, as bench/run.mjs does).
Without torch it prints {"skipped": "..."} and exits 0.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

try:
    import torch
except ImportError:
    print(json.dumps({"skipped": "python3-torch not installed"}))
    sys.exit(0)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
import hf_reference as ref  # noqa: E402


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def load(d, dtype=torch.float32):
    ref.DT = dtype  # the reference reads every tensor into ref.DT
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    t0 = time.perf_counter()
    W = ref.read_model_dir(d)
    return cfg, W, time.perf_counter() - t0


def seeded_ids(n, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g).tolist()


def dims(cfg):
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    return D, H, cfg.get("num_key_value_heads", H), cfg.get("head_dim") or D // H


def lin(x, w):
    """x [T, in] · wᵀ: for one row a matrix-vector product (torch.mv → OpenBLAS sgemv), since PyTorch 1.13
    sends a [1, in] · [in, out] product to sgemm, which packs the whole weight matrix on every call
    (aten::mm at 1.5 GFLOP/s in a decode step at this shape: 0.18 s per token instead of ~0.05)."""
    if x.shape[0] == 1:
        return torch.mv(w, x[0]).unsqueeze(0)
    return x @ w.T


def cached_forward(cfg, W, ids, cache, start):
    """Llama logits of the LAST position for ids at positions start…start+T−1, reading and writing cache
    {(layer, 'k'|'v'): [Hkv, capacity, hd]} (keys stored rotated)."""
    D, H, Hkv, hd = dims(cfg)
    eps = cfg.get("rms_norm_eps", 1e-6)
    T = len(ids)
    inv, af = ref.rope_params(cfg, start + T)
    pos = torch.arange(start, start + T, dtype=ref.DT)
    freqs = torch.outer(pos, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos() * af, emb.sin() * af
    x = W["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
    g = H // Hkv
    end = start + T
    for l in range(cfg["num_hidden_layers"]):
        h = "model.layers.%d." % l
        y = ref.rms_norm(x, W[h + "input_layernorm.weight"], eps)
        q = lin(y, W[h + "self_attn.q_proj.weight"]).reshape(T, H, hd).transpose(0, 1)
        k = lin(y, W[h + "self_attn.k_proj.weight"]).reshape(T, Hkv, hd).transpose(0, 1)
        v = lin(y, W[h + "self_attn.v_proj.weight"]).reshape(T, Hkv, hd).transpose(0, 1)
        q = q * cos + ref.rotate_half(q) * sin
        k = k * cos + ref.rotate_half(k) * sin
        K, V = cache[(l, "k")], cache[(l, "v")]
        K[:, start:end] = k
        V[:, start:end] = v
        qg = q.reshape(Hkv, g * T, hd)  # query head h = j·g + i reads key/value head j
        s = qg @ K[:, :end].transpose(-1, -2) / math.sqrt(hd)  # [Hkv, g·T, end]
        if T > 1:
            qpos = torch.arange(start, end).repeat(g)
            s = s.masked_fill(torch.arange(end)[None, :] > qpos[:, None], float("-inf"))
        o = (torch.softmax(s, dim=-1) @ V[:, :end]).reshape(H, T, hd).transpose(0, 1).reshape(T, H * hd)
        x = x + lin(o, W[h + "self_attn.o_proj.weight"])
        y = ref.rms_norm(x, W[h + "post_attention_layernorm.weight"], eps)
        gate = ref.act("silu", lin(y, W[h + "mlp.gate_proj.weight"]))
        x = x + lin(gate * lin(y, W[h + "mlp.up_proj.weight"]), W[h + "mlp.down_proj.weight"])
    x = ref.rms_norm(x[-1:], W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return lin(x, head)[0]


def new_cache(cfg, capacity):
    _, _, Hkv, hd = dims(cfg)
    return {(l, s): torch.zeros(Hkv, capacity, hd, dtype=ref.DT) for l in range(cfg["num_hidden_layers"]) for s in ("k", "v")}


def case_load(a):
    cfg, W, s = load(a.dir)
    n = sum(t.numel() for t in W.values())
    return {"case": "load", "seconds": s, "params": n}


def case_prefill(a):
    cfg, W, load_s = load(a.dir)
    ids = seeded_ids(a.len, cfg["vocab_size"])
    times = []
    with torch.no_grad():
        ref.forward(cfg, W, ids[:64])  # warm-up
        for _ in range(a.runs):
            t0 = time.perf_counter()
            out = ref.forward(cfg, W, ids)
            times.append(time.perf_counter() - t0)
            del out
    best = min(times)
    return {"case": "prefill", "len": a.len, "seconds": best, "runs_s": times, "tokens_per_s": a.len / best, "load_s": load_s}


def case_decode(a):
    cfg, W, _ = load(a.dir)
    with torch.no_grad():
        small = seeded_ids(24, cfg["vocab_size"], 1)
        c = new_cache(cfg, 24)
        got = cached_forward(cfg, W, small[:20], c, 0)
        for i in range(20, 24):
            got = cached_forward(cfg, W, [small[i]], c, i)
        check = float((got - ref.forward(cfg, W, small)[-1]).abs().max())
        ids = seeded_ids(a.prompt, cfg["vocab_size"])
        cache = new_cache(cfg, a.prompt + a.tokens)
        t0 = time.perf_counter()
        logits = cached_forward(cfg, W, ids, cache, 0)
        prompt_s = time.perf_counter() - t0
        out, stamps = [], []
        torch.set_num_threads(a.decode_threads)  # one-token steps: matrix-vector products, see --decode-threads
        t1 = time.perf_counter()
        for i in range(a.tokens):
            nxt = int(logits.argmax())
            out.append(nxt)
            logits = cached_forward(cfg, W, [nxt], cache, a.prompt + i)
            stamps.append(time.perf_counter())
        gen_s = stamps[-1] - t1
    return {"case": "decode", "prompt": a.prompt, "tokens": a.tokens, "prompt_pass_s": prompt_s, "seconds": gen_s,
            "tokens_per_s": a.tokens / gen_s, "first_tokens": out[:8], "cache_vs_recompute_max_abs": check}


def decay_name(n):
    return n.endswith("_proj.weight") or n == "lm_head.weight"


def case_train(a):
    cfg, W, _ = load(a.dir)
    for t in W.values():
        t.requires_grad_(True)
    groups = [{"params": [t for n, t in W.items() if decay_name(n)], "weight_decay": 0.1},
              {"params": [t for n, t in W.items() if not decay_name(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    ids = seeded_ids(a.len, cfg["vocab_size"])
    target = torch.tensor(ids[1:], dtype=torch.long)
    times, losses = [], []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = ref.forward(cfg, W, ids)
        loss = torch.nn.functional.cross_entropy(logits[:-1], target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([t for t in W.values()], 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        losses.append(float(loss))
        del logits, loss
    best = min(times[1:]) if len(times) > 1 else times[0]
    return {"case": "train", "len": a.len, "steps": a.steps, "step_s": best, "steps_s": times, "tokens_per_s": a.len / best, "losses": losses}


def case_logits(a):
    cfg, W, _ = load(a.dir, torch.float64 if a.dtype == "float64" else torch.float32)
    with open(a.ids_file) as f:
        ids = json.load(f)
    with torch.no_grad():
        out = ref.forward(cfg, W, ids)
    rows = out[-a.rows:] if a.rows else out
    rows.to(torch.float32).contiguous().numpy().astype("<f4").tofile(a.out)
    return {"case": "logits", "len": len(ids), "rows": rows.shape[0], "vocab": rows.shape[1], "dtype": a.dtype, "out": a.out}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("case", choices=["load", "prefill", "decode", "train", "logits"])
    p.add_argument("dir")
    p.add_argument("--len", type=int, default=512)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--prompt", type=int, default=2048)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ids-file")
    p.add_argument("--out")
    p.add_argument("--rows", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=2)
    # one-token decode steps: OpenBLAS's sgemv on 2 threads took 0.171 s per token at this shape, on 1 thread
    # 0.043 s (thread wake-ups on 211 small products per token); the prompt pass keeps --threads
    p.add_argument("--decode-threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    r = {"load": case_load, "prefill": case_prefill, "decode": case_decode, "train": case_train, "logits": case_logits}[a.case](a)
    r.update({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "peak_rss_mib": peak_rss_mib(),
              "load_1min": round(os.getloadavg()[0], 2)})
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
