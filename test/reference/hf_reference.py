#!/usr/bin/python3
"""Independent PyTorch reference for Hugging Face causal LMs: gpt2, gpt_neox, llama, qwen2.

Written from the published modeling semantics of Hugging Face transformers (modeling_gpt2,
modeling_gpt_neox, modeling_llama, modeling_qwen2, modeling_rope_utils), not from ctxlab's code.
Needs only torch (Debian python3-torch 1.13 is enough) and the standard library: safetensors files
are read and written by hand (8-byte little-endian header length, JSON header, raw data).

  python3 test/reference/hf_reference.py fixtures OUT_DIR     tiny random models in HF names/shapes,
                                                             with expected logits, inv_freq, attention factor
  python3 test/reference/hf_reference.py logits MODEL_DIR IDS  logits of a model directory for IDS
                                                             (a JSON list) as JSON [T][V] on stdout
  python3 test/reference/hf_reference.py rope CONFIG_JSON T    {"inv_freq": [...], "attention_factor": a}

Everything runs in float64 (weights are read from F32/F16/BF16 and widened).
"""
import json
import math
import os
import struct
import sys

import torch

DT = torch.float64

# ---------------------------------------------------------------- safetensors by hand

_ST_DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "F64": (torch.float64, 8)}


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8 : 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype, size = _ST_DTYPES[e["dtype"]]
        s, t = e["data_offsets"]
        raw = bytearray(b[8 + n + s : 8 + n + t])
        if dtype is torch.bfloat16:
            x = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.zeros(0, dtype=torch.bfloat16)
        else:
            x = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
        out[name] = x.reshape(e["shape"]).to(DT)
    return out


def write_safetensors(path, tensors, dtype="F32"):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        tt = t.detach().to(_ST_DTYPES[dtype][0]).contiguous()
        raw = (tt.view(torch.int16) if dtype in ("BF16", "F16") else tt).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_model_dir(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        wm = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(wm.values())):
        out.update(read_safetensors(os.path.join(d, shard)))
    return out


# ---------------------------------------------------------------- rope (modeling_rope_utils semantics, 5.x)


def rope_params(cfg, seq_len):
    """inv_freq (rotated dims d/2) and attention factor for cfg at a sequence of seq_len tokens."""
    mt = cfg["model_type"]
    H = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // H
    rp = cfg.get("rope_parameters") if isinstance(cfg.get("rope_parameters"), dict) else None
    if mt == "gpt_neox":
        base = cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000))
        frac = cfg.get("partial_rotary_factor", cfg.get("rotary_pct", 0.25))
    else:
        base = cfg.get("rope_theta", 10000.0)
        frac = cfg.get("partial_rotary_factor", 1.0)
    if rp:
        base = rp.get("rope_theta", base)
        frac = rp.get("partial_rotary_factor", frac)
    dim = int(head_dim * frac)
    sc = rp if rp and (rp.get("rope_type") or rp.get("type")) else cfg.get("rope_scaling")
    kind = (sc or {}).get("rope_type", (sc or {}).get("type", "default"))
    mpe = cfg.get("max_position_embeddings", 2048)
    idx = torch.arange(0, dim, 2, dtype=DT) / dim
    inv = 1.0 / (base**idx)
    if kind == "default":
        return inv, 1.0
    factor = sc.get("factor")
    if kind == "linear":
        return inv / factor, 1.0
    if kind == "dynamic":
        L = mpe
        T = max(seq_len, L)
        b2 = base * ((factor * T / L) - (factor - 1)) ** (dim / (dim - 2))
        return 1.0 / (b2**idx), 1.0
    if kind == "yarn":
        L = sc.get("original_max_position_embeddings") or mpe
        if factor is None:
            factor = mpe / L

        def get_mscale(s, m=1.0):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        af = sc.get("attention_factor")
        if af is None:
            m, mall = sc.get("mscale"), sc.get("mscale_all_dim")
            af = get_mscale(factor, m) / get_mscale(factor, mall) if (m and mall) else get_mscale(factor)
        beta_fast = sc.get("beta_fast") or 32
        beta_slow = sc.get("beta_slow") or 1

        def corr_dim(rot):
            return (dim * math.log(L / (rot * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=DT) - low) / (high - low), 0, 1)
        extra = 1 - ramp
        pos_freqs = base**idx
        return (1.0 / (factor * pos_freqs)) * (1 - extra) + (1.0 / pos_freqs) * extra, af
    if kind == "llama3":
        L = sc["original_max_position_embeddings"]
        lo, hi = sc["low_freq_factor"], sc["high_freq_factor"]
        wl = 2 * math.pi / inv
        out = torch.where(wl > L / lo, inv / factor, inv)
        smooth = (L / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        med = ~(wl < L / hi) & ~(wl > L / lo)
        return torch.where(med, smoothed, out), 1.0
    raise ValueError("unsupported rope type %r" % kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(q, k, inv, af, T):
    """q, k [H, T, rot]; HF: cos/sin of cat(freqs, freqs) times attention_factor."""
    pos = torch.arange(T, dtype=DT)
    freqs = torch.outer(pos, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos() * af, emb.sin() * af
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


# ---------------------------------------------------------------- blocks


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def act(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    if name == "gelu":
        return torch.nn.functional.gelu(x)
    if name == "silu":
        return torch.nn.functional.silu(x)
    raise ValueError(name)


def causal_attention(q, k, v):
    """q [H, T, d], k, v [H, T, d] → [T, H·d]."""
    T, d = q.shape[1], q.shape[2]
    s = q @ k.transpose(-1, -2) / math.sqrt(d)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    s = s.masked_fill(~mask, float("-inf"))
    y = torch.softmax(s, dim=-1) @ v
    return y.transpose(0, 1).reshape(T, -1)


def linear(x, w, b=None):  # nn.Linear: w [out, in]
    y = x @ w.T
    return y + b if b is not None else y


def forward(cfg, W, ids):
    mt = cfg["model_type"]
    ids = torch.tensor(ids, dtype=torch.long)
    T = len(ids)
    if mt == "gpt2":
        D, H = cfg["n_embd"], cfg["n_head"]
        hd = D // H
        p = "transformer." if "transformer.wte.weight" in W else ""
        x = W[p + "wte.weight"][ids] + W[p + "wpe.weight"][:T]
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        a = cfg.get("activation_function", "gelu_new")
        for l in range(cfg["n_layer"]):
            h = "%sh.%d." % (p, l)
            y = layer_norm(x, W[h + "ln_1.weight"], W[h + "ln_1.bias"], eps)
            qkv = y @ W[h + "attn.c_attn.weight"] + W[h + "attn.c_attn.bias"]  # Conv1D: [in, out]
            q, k, v = qkv.split(D, dim=-1)
            q, k, v = (t.reshape(T, H, hd).transpose(0, 1) for t in (q, k, v))
            x = x + causal_attention(q, k, v) @ W[h + "attn.c_proj.weight"] + W[h + "attn.c_proj.bias"]
            y = layer_norm(x, W[h + "ln_2.weight"], W[h + "ln_2.bias"], eps)
            x = x + act(a, y @ W[h + "mlp.c_fc.weight"] + W[h + "mlp.c_fc.bias"]) @ W[h + "mlp.c_proj.weight"] + W[h + "mlp.c_proj.bias"]
        x = layer_norm(x, W[p + "ln_f.weight"], W[p + "ln_f.bias"], eps)
        head = W.get("lm_head.weight") if not cfg.get("tie_word_embeddings", True) else W[p + "wte.weight"]
        return x @ head.T
    inv, af = rope_params(cfg, T)
    rot = 2 * inv.shape[0]
    if mt == "gpt_neox":
        D, H = cfg["hidden_size"], cfg["num_attention_heads"]
        hd = D // H
        eps = cfg.get("layer_norm_eps", 1e-5)
        a = cfg.get("hidden_act", "gelu")
        x = W["gpt_neox.embed_in.weight"][ids]
        for l in range(cfg["num_hidden_layers"]):
            h = "gpt_neox.layers.%d." % l
            y = layer_norm(x, W[h + "input_layernorm.weight"], W[h + "input_layernorm.bias"], eps)
            qkv = linear(y, W[h + "attention.query_key_value.weight"], W[h + "attention.query_key_value.bias"])
            qkv = qkv.reshape(T, H, 3 * hd).transpose(0, 1)  # per head: [q | k | v]
            q, k, v = qkv[..., :hd], qkv[..., hd : 2 * hd], qkv[..., 2 * hd :]
            qr, kr = apply_rope(q[..., :rot], k[..., :rot], inv, af, T)
            q = torch.cat((qr, q[..., rot:]), dim=-1)
            k = torch.cat((kr, k[..., rot:]), dim=-1)
            attn = linear(causal_attention(q, k, v), W[h + "attention.dense.weight"], W[h + "attention.dense.bias"])

            def mlp(z):
                u = linear(z, W[h + "mlp.dense_h_to_4h.weight"], W[h + "mlp.dense_h_to_4h.bias"])
                return linear(act(a, u), W[h + "mlp.dense_4h_to_h.weight"], W[h + "mlp.dense_4h_to_h.bias"])

            if cfg.get("use_parallel_residual", True):
                x = x + attn + mlp(layer_norm(x, W[h + "post_attention_layernorm.weight"], W[h + "post_attention_layernorm.bias"], eps))
            else:
                x = x + attn
                x = x + mlp(layer_norm(x, W[h + "post_attention_layernorm.weight"], W[h + "post_attention_layernorm.bias"], eps))
        x = layer_norm(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"], eps)
        head = W["gpt_neox.embed_in.weight"] if cfg.get("tie_word_embeddings", False) else W["embed_out.weight"]
        return x @ head.T
    if mt in ("llama", "qwen2"):
        D, H = cfg["hidden_size"], cfg["num_attention_heads"]
        Hkv = cfg.get("num_key_value_heads", H)
        hd = cfg.get("head_dim") or D // H
        eps = cfg.get("rms_norm_eps", 1e-6)
        x = W["model.embed_tokens.weight"][ids]
        for l in range(cfg["num_hidden_layers"]):
            h = "model.layers.%d." % l
            y = rms_norm(x, W[h + "input_layernorm.weight"], eps)
            q = linear(y, W[h + "self_attn.q_proj.weight"], W.get(h + "self_attn.q_proj.bias"))
            k = linear(y, W[h + "self_attn.k_proj.weight"], W.get(h + "self_attn.k_proj.bias"))
            v = linear(y, W[h + "self_attn.v_proj.weight"], W.get(h + "self_attn.v_proj.bias"))
            q = q.reshape(T, H, hd).transpose(0, 1)
            k = k.reshape(T, Hkv, hd).transpose(0, 1)
            v = v.reshape(T, Hkv, hd).transpose(0, 1)
            qr, kr = apply_rope(q[..., :rot], k[..., :rot], inv, af, T)
            q = torch.cat((qr, q[..., rot:]), dim=-1)
            k = torch.cat((kr, k[..., rot:]), dim=-1)
            k = k.repeat_interleave(H // Hkv, dim=0)  # repeat_kv: query head h uses K/V head h // (H/Hkv)
            v = v.repeat_interleave(H // Hkv, dim=0)
            x = x + linear(causal_attention(q, k, v), W[h + "self_attn.o_proj.weight"], W.get(h + "self_attn.o_proj.bias"))
            y = rms_norm(x, W[h + "post_attention_layernorm.weight"], eps)
            g = act("silu", linear(y, W[h + "mlp.gate_proj.weight"], W.get(h + "mlp.gate_proj.bias")))
            u = linear(y, W[h + "mlp.up_proj.weight"], W.get(h + "mlp.up_proj.bias"))
            x = x + linear(g * u, W[h + "mlp.down_proj.weight"], W.get(h + "mlp.down_proj.bias"))
        x = rms_norm(x, W["model.norm.weight"], eps)
        head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
        return x @ head.T
    raise ValueError("unsupported model_type %r" % mt)


# ---------------------------------------------------------------- fixtures

V, D, H, L, M = 61, 32, 4, 2, 64


def rnd(g, *shape, std=0.25, mean=0.0):
    return torch.randn(*shape, generator=g, dtype=torch.float32).to(DT) * std + mean


def make_weights(cfg, g):
    mt = cfg["model_type"]
    W = {}
    if mt == "gpt2":
        n = cfg["n_positions"]
        Mg = cfg.get("n_inner") or 4 * D
        W["wte.weight"] = rnd(g, V, D, std=0.5)
        W["wpe.weight"] = rnd(g, n, D, std=0.3)
        for l in range(L):
            h = "h.%d." % l
            W[h + "ln_1.weight"], W[h + "ln_1.bias"] = rnd(g, D, std=0.1, mean=1), rnd(g, D, std=0.1)
            W[h + "attn.c_attn.weight"], W[h + "attn.c_attn.bias"] = rnd(g, D, 3 * D), rnd(g, 3 * D, std=0.1)
            W[h + "attn.c_proj.weight"], W[h + "attn.c_proj.bias"] = rnd(g, D, D), rnd(g, D, std=0.1)
            W[h + "ln_2.weight"], W[h + "ln_2.bias"] = rnd(g, D, std=0.1, mean=1), rnd(g, D, std=0.1)
            W[h + "mlp.c_fc.weight"], W[h + "mlp.c_fc.bias"] = rnd(g, D, Mg), rnd(g, Mg, std=0.1)
            W[h + "mlp.c_proj.weight"], W[h + "mlp.c_proj.bias"] = rnd(g, Mg, D), rnd(g, D, std=0.1)
        W["ln_f.weight"], W["ln_f.bias"] = rnd(g, D, std=0.1, mean=1), rnd(g, D, std=0.1)
        if not cfg.get("tie_word_embeddings", True):
            W["lm_head.weight"] = rnd(g, V, D, std=0.5)
        return W
    if mt == "gpt_neox":
        W["gpt_neox.embed_in.weight"] = rnd(g, V, D, std=0.5)
        for l in range(L):
            h = "gpt_neox.layers.%d." % l
            for n in ("input_layernorm", "post_attention_layernorm"):
                W[h + n + ".weight"], W[h + n + ".bias"] = rnd(g, D, std=0.1, mean=1), rnd(g, D, std=0.1)
            W[h + "attention.query_key_value.weight"], W[h + "attention.query_key_value.bias"] = rnd(g, 3 * D, D), rnd(g, 3 * D, std=0.1)
            W[h + "attention.dense.weight"], W[h + "attention.dense.bias"] = rnd(g, D, D), rnd(g, D, std=0.1)
            W[h + "mlp.dense_h_to_4h.weight"], W[h + "mlp.dense_h_to_4h.bias"] = rnd(g, M, D), rnd(g, M, std=0.1)
            W[h + "mlp.dense_4h_to_h.weight"], W[h + "mlp.dense_4h_to_h.bias"] = rnd(g, D, M), rnd(g, D, std=0.1)
        W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"] = rnd(g, D, std=0.1, mean=1), rnd(g, D, std=0.1)
        W["embed_out.weight"] = rnd(g, V, D, std=0.5)
        return W
    Hkv = cfg["num_key_value_heads"]
    hd = D // H
    W["model.embed_tokens.weight"] = rnd(g, V, D, std=0.5)
    for l in range(L):
        h = "model.layers.%d." % l
        W[h + "input_layernorm.weight"] = rnd(g, D, std=0.1, mean=1)
        W[h + "post_attention_layernorm.weight"] = rnd(g, D, std=0.1, mean=1)
        W[h + "self_attn.q_proj.weight"] = rnd(g, H * hd, D)
        W[h + "self_attn.k_proj.weight"] = rnd(g, Hkv * hd, D)
        W[h + "self_attn.v_proj.weight"] = rnd(g, Hkv * hd, D)
        if mt == "qwen2":
            W[h + "self_attn.q_proj.bias"] = rnd(g, H * hd, std=0.1)
            W[h + "self_attn.k_proj.bias"] = rnd(g, Hkv * hd, std=0.1)
            W[h + "self_attn.v_proj.bias"] = rnd(g, Hkv * hd, std=0.1)
        W[h + "self_attn.o_proj.weight"] = rnd(g, D, H * hd)
        W[h + "mlp.gate_proj.weight"] = rnd(g, M, D)
        W[h + "mlp.up_proj.weight"] = rnd(g, M, D)
        W[h + "mlp.down_proj.weight"] = rnd(g, D, M)
    W["model.norm.weight"] = rnd(g, D, std=0.1, mean=1)
    if not cfg.get("tie_word_embeddings", False):
        W["lm_head.weight"] = rnd(g, V, D, std=0.5)
    return W


CTX = 16  # original context of every rotary fixture; scaled cases run at 2.5× = 40 tokens


def neox(rope_scaling=None, pct=0.5, parallel=False, act_name="gelu", tied=False):
    return {
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": V, "hidden_size": D,
        "num_hidden_layers": L, "num_attention_heads": H, "intermediate_size": M, "hidden_act": act_name,
        "rotary_pct": pct, "rotary_emb_base": 10000, "max_position_embeddings": CTX, "layer_norm_eps": 1e-5,
        "use_parallel_residual": parallel, "tie_word_embeddings": tied, "rope_scaling": rope_scaling,
    }


def llama(rope_scaling=None, mt="llama", theta=10000.0, mpe=CTX):
    return {
        "architectures": ["LlamaForCausalLM" if mt == "llama" else "Qwen2ForCausalLM"], "model_type": mt, "vocab_size": V,
        "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": 2,
        "intermediate_size": M, "hidden_act": "silu", "rms_norm_eps": 1e-6, "rope_theta": theta,
        "max_position_embeddings": mpe, "tie_word_embeddings": mt == "qwen2", "rope_scaling": rope_scaling,
    }


YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": CTX}
CASES = {
    # name: (config, tokens, weight dtype, sharded)
    "gpt2": ({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": 24, "n_embd": D,
              "n_layer": L, "n_head": H, "n_inner": M, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
              "tie_word_embeddings": True}, 24, "F32", True),
    "gpt2-untied-erf-f16": ({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": 20, "n_embd": D,
                             "n_layer": L, "n_head": H, "n_inner": None, "activation_function": "gelu", "layer_norm_epsilon": 1e-5,
                             "tie_word_embeddings": False}, 20, "F16", False),
    "neox": (neox(), 24, "F32", False),
    "neox-linear-bf16": (neox({"rope_type": "linear", "factor": 2.5}), 40, "BF16", False),
    "neox-dynamic": (neox({"type": "dynamic", "factor": 2.0}), 40, "F32", False),
    "neox-yarn": (neox(dict(YARN), pct=1.0), 40, "F32", False),
    "neox-llama3": (neox({"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": CTX}, pct=1.0), 40, "F32", False),
    "neox-parallel": (neox(parallel=True), 24, "F32", False),
    "llama-gqa": (llama(), 24, "F32", False),
    "llama-linear": (llama({"rope_type": "linear", "factor": 2.5}), 40, "F32", False),
    "llama-dynamic": (llama({"rope_type": "dynamic", "factor": 2.0}), 40, "F32", False),
    "llama-yarn": (llama(dict(YARN, beta_fast=16, beta_slow=2)), 40, "F32", False),
    "llama-yarn-mscale": (llama(dict(YARN, mscale=0.707, mscale_all_dim=1.0)), 40, "F32", False),
    "llama-llama3": (llama({"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": CTX}, theta=500000.0), 40, "F32", False),
    "qwen2-bias": (llama(mt="qwen2", theta=1000000.0), 24, "F16", False),
}


def make_fixtures(out):
    os.makedirs(out, exist_ok=True)
    for i, (name, (cfg, T, dtype, sharded)) in enumerate(sorted(CASES.items())):
        g = torch.Generator().manual_seed(1000 + i)
        W = make_weights(cfg, g)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        cfg = {k: v for k, v in cfg.items() if v is not None or k == "rope_scaling"}
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        if sharded:
            names = list(W)
            half = len(names) // 2
            shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
            for fn, ns in shards.items():
                write_safetensors(os.path.join(d, fn), {n: W[n] for n in ns}, dtype)
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": 0}, "weight_map": {n: fn for fn, ns in shards.items() for n in ns}}, f, indent=1)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), W, dtype)
        W = read_model_dir(d)  # the logits come from the stored (rounded) values
        ids = torch.randint(0, V, (T,), generator=g).tolist()
        logits = forward(cfg, W, ids)
        exp = {"ids": ids, "logits": [[round(float(v), 6) for v in row] for row in logits]}
        if cfg["model_type"] != "gpt2":
            inv, af = rope_params(cfg, T)
            exp["rope"] = {"seq_len": T, "inv_freq": [float(v) for v in inv], "attention_factor": float(af)}
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(exp, f)
        print("%-22s T=%d max|logit| %.3f" % (name, T, float(logits.abs().max())))


def main(argv):
    if len(argv) >= 2 and argv[0] == "fixtures":
        make_fixtures(argv[1])
    elif len(argv) >= 3 and argv[0] == "logits":
        with open(os.path.join(argv[1], "config.json")) as f:
            cfg = json.load(f)
        out = forward(cfg, read_model_dir(argv[1]), json.loads(argv[2]))
        json.dump([[float(v) for v in row] for row in out], sys.stdout)
    elif len(argv) >= 3 and argv[0] == "rope":
        inv, af = rope_params(json.loads(argv[1]), int(argv[2]))
        json.dump({"inv_freq": [float(v) for v in inv], "attention_factor": float(af)}, sys.stdout)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
