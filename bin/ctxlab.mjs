#!/usr/bin/env node
// The ctxlab command: train, generate, finetune, experiment, eval (cli/main) and kernel (kernel/main). Runs the built dist/.
const [cmd, ...rest] = process.argv.slice(2);
const here = new URL("..", import.meta.url);
if (cmd === "kernel") {
  const { kernelCli } = await import(new URL("dist/kernel/main.js", here).href);
  process.exitCode = await kernelCli(process.argv.slice(2));
} else {
  const { cli } = await import(new URL("dist/cli/main.js", here).href);
  process.exitCode = await cli(process.argv.slice(2));
}
