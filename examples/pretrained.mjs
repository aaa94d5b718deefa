// Hugging Face models in ctxlab: load, swap the encoding, export back.
// Runs offline on the tiny reference fixtures of test/fixtures/hf (random weights in real HF layouts).
import { readFileSync } from "node:fs";
import { useBackend, loadPretrained, pretrainedSource, saveCheckpoint, positionalFromHf, parseHfConfig } from "ctxlab";

await useBackend();
const m = await loadPretrained("test/fixtures/hf/llama-gqa");          // or a hub id: "HuggingFaceTB/SmolLM-135M"
const src = pretrainedSource(m);
const c = m.cfg;
console.log(src.spec.modelType, "→", m.positional.label);
console.log(`norm ${c.norm}, mlp ${c.mlp}, H ${c.nHeads}, H_kv ${c.nKvHeads}, d_attn ${c.dAttn}, bias ${JSON.stringify(c.bias)}, residual ${c.residual}, tied ${c.tiedEmbeddings}`);
console.log("parameters:", m.numParams().toLocaleString("en-US"), " ℓ_max:", c.lMax);
const ids = [5, 17, 42, 8, 23];
console.log("logits[0][0..3]:", Array.from(m.logits(ids).dataSync().slice(0, 3), (v) => +v.toFixed(4)));
// YaRN ×4 as Hugging Face's rope_scaling would set it, on the same weights
const yarn4 = positionalFromHf(parseHfConfig({ ...src.spec.raw, rope_scaling: { rope_type: "yarn", factor: 4, original_max_position_embeddings: c.lMax } }));
const y = m.withPositional(yarn4);
console.log("swapped:", y.positional.label);

await saveCheckpoint(y, "/tmp/ctxlab-export-yarn", { format: "hf" });  // Llama layout, rope_scaling yarn
const j = JSON.parse(readFileSync("/tmp/ctxlab-export-yarn/config.json", "utf8"));
console.log("exported:", j.architectures[0], "num_key_value_heads", j.num_key_value_heads, "head_dim", j.head_dim, JSON.stringify(j.rope_scaling));

const q = await loadPretrained("test/fixtures/hf/qwen2-bias");
console.log("qwen2:", JSON.stringify(q.cfg.bias), "tied", q.cfg.tiedEmbeddings, "|", q.positional.label);
const p = await loadPretrained("test/fixtures/hf/neox-parallel");
console.log("gpt_neox:", p.cfg.residual, "residual,", p.positional.label);
