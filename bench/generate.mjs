// Generation speed (Alg 14) with and without the KV cache after a long prompt, reference model
// (L=4, H=4, d_e=128, d_mlp=512, N_V=256, learned positions extended to ℓ_max=2048), greedy.
// Usage: node bench/generate.mjs [promptLength=1024] [tokens=32] [backend=wasm]
import { useBackend, DTransformer, presets, dInference } from "ctxlab";

const promptLength = Number(process.argv[2] ?? 1024);
const n = Number(process.argv[3] ?? 32);
await useBackend(process.argv[4] ?? "wasm");
const model = DTransformer.create({ ...presets.ref, lMax: 2048 }, 0);
const prompt = Array.from({ length: promptLength }, (_, i) => (i * 31 + 7) % 256);
const rows = [];
for (const cache of [true, false]) {
  const tokens = cache ? n : Math.max(4, Math.floor(n / 4));
  await dInference(model, prompt, { maxTokens: 2, temperature: 0, cache }); // warm-up
  let first = 0;
  const r = await dInference(model, prompt, { maxTokens: tokens, temperature: 0, cache, onToken: (_, i) => void (i === 0 && (first = performance.now())) });
  const end = performance.now();
  // the first token includes the prompt pass (ℓ tokens at once); report it apart from the per-token rate
  const perToken = (end - first) / 1000 / (r.tokens.length - 1);
  rows.push({ cache, tokens: r.tokens.length, prompt_pass_s: +(r.seconds - (end - first) / 1000).toFixed(2), tokens_per_s: +(1 / perToken).toFixed(1) });
}
console.table(rows);
console.log(`KV cache speed-up at ℓ=${promptLength}: ${(rows[0].tokens_per_s / rows[1].tokens_per_s).toFixed(1)}×`);
