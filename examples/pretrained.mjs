// Hugging Face models in ctxlab: load, swap the encoding, export, and what is not available yet.
// Runs offline on the tiny reference fixtures of test/fixtures/hf (random weights in real HF layouts).
import { readFileSync } from "node:fs";
import { useBackend, loadPretrained, pretrainedSource, saveCheckpoint, ropePI, parseHfConfig, missingOptions } from "ctxlab";

await useBackend();
const m = await loadPretrained("test/fixtures/hf/neox-yarn");         // or a hub id: "EleutherAI/pythia-70m"
const src = pretrainedSource(m);
console.log(src.spec.modelType, "→", m.positional.label);
console.log("parameters:", m.numParams().toLocaleString("en-US"), " ℓ_max:", m.cfg.lMax);
const ids = [5, 17, 42, 8, 23];
console.log("logits[0][0..3]:", Array.from(m.logits(ids).dataSync().slice(0, 3), (v) => +v.toFixed(4)));
const pi = m.withPositional(ropePI(4, { rotaryFraction: 1 }));       // same weights, PI ×4 instead of YaRN
console.log("swapped:", pi.positional.label);

await saveCheckpoint(pi, "/tmp/ctxlab-export-pi", { format: "hf" });  // GPT-NeoX layout, rope_scaling linear
const c = JSON.parse(readFileSync("/tmp/ctxlab-export-pi/config.json", "utf8"));
console.log("exported:", c.architectures[0], JSON.stringify(c.rope_scaling), "rotary_pct", c.rotary_pct, "use_parallel_residual", c.use_parallel_residual);

const smol = parseHfConfig({ model_type: "llama", vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
  num_attention_heads: 9, num_key_value_heads: 3, max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true });
console.log("SmolLM-135M needs:", missingOptions(smol).join("; "));
try { await loadPretrained("test/fixtures/hf/llama-gqa"); } catch (e) { console.log(`${e.name}: ${e.message}`); }
