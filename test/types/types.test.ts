/**
 * Typed tensors fail to compile when wired wrongly: compile snippets with the TypeScript compiler
 * API and check the diagnostics (the right wiring compiles clean).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";

const root = resolve(process.cwd());

function compile(body: string, opts: { header?: string; resolution?: "nodenext" | "node10" } = {}): string[] {
  // inside the repository, so that node_modules and package.json ("type": "module") apply
  const dir = mkdtempSync(join(root, "dist", "types-snippet-"));
  try {
    const file = join(dir, "snippet.ts");
    writeFileSync(
      file,
      (opts.header ?? `import * as tf from "@tensorflow/tfjs";\nimport { layerNorm, mhAttention, named, tokenEmbedding, unembedding, type MhaWeights, type Seq } from "${join(root, "lib", "index.js")}";\n`) +
        `declare const W_e: tf.Tensor, W: MhaWeights, g: tf.Tensor, b: tf.Tensor, W_u: tf.Tensor;\n${body}\n`,
    );
    const program = ts.createProgram([file], {
      strict: true,
      module: opts.resolution === "node10" ? ts.ModuleKind.ESNext : ts.ModuleKind.NodeNext,
      moduleResolution: opts.resolution === "node10" ? ts.ModuleResolutionKind.Node10 : ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      typeRoots: [join(root, "node_modules", "@types")],
      baseUrl: root,
    });
    return ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("typed tensors at compile time", () => {
  it("a right wiring compiles", () => {
    const errs = compile(`const X = tokenEmbedding([1, 2], W_e); const A: Seq<"d_e"> = mhAttention(layerNorm(X, g, b), X, W, { nHeads: 2 }); const P: Seq<"N_V"> = unembedding(A, W_u); void P;`);
    assert.deepEqual(errs, []);
  });
  it("an MLP activation fed to attention fails, naming the dims", () => {
    const errs = compile(`const H = named(tf.zeros([3, 16]), ["ℓ", "d_mlp"]); mhAttention(H, H, W, { nHeads: 2 });`);
    assert.ok(errs.length > 0, "expected a type error");
    assert.match(errs.join("\n"), /d_mlp/);
  });
  it("logits fed to layer norm fail", () => {
    const errs = compile(`const X = tokenEmbedding([1, 2], W_e); const P = unembedding(X, W_u); layerNorm(P, g, b);`);
    assert.ok(errs.length > 0);
    assert.match(errs.join("\n"), /N_V/);
  });
});

describe('import … from "ctxlab"', () => {
  const header = `import * as tf from "@tensorflow/tfjs";\nimport { layerNorm, mhAttention, named, tokenEmbedding, unembedding, DTransformer, presets, type MhaWeights, type Seq } from "ctxlab";\n`;
  const body = `const m = DTransformer.create(presets.micro); const l: Seq<"N_V"> = m.logits([1, 2]); void l; void named; void layerNorm; void mhAttention; void tokenEmbedding; void unembedding;`;
  it("type-checks through the package's self-reference (\"exports\", NodeNext)", () => {
    assert.deepEqual(compile(body, { header }), []);
  });
  it("type-checks with node10 resolution (what tslab uses) through node_modules/ctxlab and top-level main/types", () => {
    assert.ok(existsSync(join(root, "node_modules", "ctxlab", "package.json")), "node_modules/ctxlab is missing: run `npm run setup` (it links the checkout there)");
    assert.deepEqual(compile(body, { header, resolution: "node10" }), []);
    // and a wrong wiring is still reported under node10
    assert.ok(compile(`const H = named(tf.zeros([3, 16]), ["ℓ", "d_mlp"]); mhAttention(H, H, {} as MhaWeights, { nHeads: 2 });`, { header, resolution: "node10" }).length > 0);
  });
  it("imports at run time with the full API", async () => {
    const mod = (await import("ctxlab")) as Record<string, unknown>;
    for (const name of ["DTransformer", "useBackend", "tokenEmbedding", "positionalEmbedding", "singleQueryAttention", "attention", "mhAttention", "layerNorm", "unembedding", "scope", "memoryInfo", "Rng"]) {
      assert.ok(name in mod, `ctxlab does not export ${name}`);
    }
  });
});
