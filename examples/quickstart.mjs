// Quick start: build Algorithm 10, run it, trace it, swap its positional encoding.
// Run after `npm run setup`:  node examples/quickstart.mjs
import { useBackend, DTransformer, presets, none, memoryInfo, scope } from "ctxlab";

const info = await useBackend(); // CTXLAB_BACKEND=node-gpu|node|wasm|cpu to choose
console.log(info.summary);

const model = DTransformer.create({ ...presets.tiny }, 0); // N_V=256, ℓ_max=128, L=2, H=4, d_e=64
console.log(`parameters: ${model.numParams().toLocaleString("en-US")}`);

const x = Array.from(Buffer.from("Call me Ishmael."));
await scope(async () => {
  const logits = model.logits(x); // [ℓ, N_V] pre-softmax
  console.log("logits", logits.shape);
  const { cache } = model.trace(x); // every line of Algorithm 10
  console.table(cache.rows().slice(0, 14).map(({ name, line, symbol, shape }) => ({ name, line, symbol, shape })));
  cache.dispose();
});

try {
  model.logits(new Array(200).fill(65));
} catch (e) {
  console.log(`${e.name}: ${e.message}`);
}
const nope = model.withPositional(none()); // same weights, no W_p
console.log("NoPE on 200 tokens:", nope.logits(new Array(200).fill(65)).shape);
console.log(memoryInfo().summary);
