#!/usr/bin/env node
/**
 * Entry point of the ctxlab kernel (the `bin` and what kernel.json runs):
 *   node dist/kernel/start.js <connection_file>          start a kernel (Jupyter's argv)
 *   node dist/kernel/start.js kernel install|uninstall|start …   see main.ts
 */
import { kernelCli } from "./main.js";

const argv = process.argv.slice(2);
const args = argv.length === 1 && argv[0] !== "kernel" && !argv[0]!.startsWith("-") ? ["kernel", "start", argv[0]!] : argv;
kernelCli(args).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`ctxlab kernel: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
