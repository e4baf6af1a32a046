#!/usr/bin/env node
/**
 * Compiles the AssemblyScript kernel sources kernels/<name>.ts with asc's JS API into two WebAssembly modules each:
 *
 *   kernels/build/<name>.wasm         imports an unshared memory (tfjs-backend-wasm's single-threaded build)
 *   kernels/build/<name>.shared.wasm  imports a shared memory, max 65536 pages (the threaded build)
 *
 * Two builds because an imported memory must match the importer's declaration in sharedness (WebAssembly threads
 * proposal, import matching: a `shared` memory type matches only a shared memory, an unshared one only an unshared one).
 *
 * Usage: node kernels/build.mjs [--src DIR] [--out DIR] [name ...]   (no names: every kernels/*.ts)
 * `npm run build:kernels` runs it; src/wasm/load.ts runs it when a module is missing or older than its source.
 * Each output is written to a temporary file and renamed, so concurrent builds never leave a partial module.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * Flags shared by every kernel module (kernels/README.md explains each):
 * - `-O3 --noAssert`: speed; assertions compiled out.
 * - `--runtime stub --use abort=`: no garbage collector, no `abort` import; the sources allocate nothing and have no
 *   string literals or static arrays, so the module has no data segment and no heap/stack globals that could write
 *   into tfjs' heap (the loader refuses a module with a data segment).
 * - `--importMemory --noExportMemory --initialMemory 0`: the memory is tfjs-backend-wasm's, imported as env.memory.
 * - `--enable simd`: v128 / f32x4 instructions (relaxed SIMD stays off: its results may differ between machines).
 */
export const COMMON_FLAGS = [
  '-O3',
  '--noAssert',
  '--runtime',
  'stub',
  '--use',
  'abort=',
  '--importMemory',
  '--noExportMemory',
  '--initialMemory',
  '0',
  '--enable',
  'simd',
];
/** Extra flags of the shared-memory variant (a shared memory needs a maximum; 65536 pages = 4 GiB, wasm32's limit). */
export const SHARED_FLAGS = ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'];

/**
 * Compiles `src` to `out` with the given extra flags; throws with asc's diagnostics on failure. The output's
 * modification time is set to `stamp` (the newest input's, taken before compiling), so a source edited while it
 * compiles leaves the output older than the source: stale, rebuilt on next load, never silently out of date.
 */
async function compile(src, out, extra, stamp) {
  const tmp = `${out}.tmp-${process.pid}`;
  const stderr = [];
  const sink = {
    write: (s) => {
      stderr.push(String(s));
      return true;
    },
  };
  const { error } = await asc.main([src, ...COMMON_FLAGS, ...extra, '--outFile', tmp], { stdout: sink, stderr: sink });
  if (error) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`asc failed on ${src}: ${error.message}\n${stderr.join('')}`);
  }
  fs.utimesSync(tmp, new Date(), (stamp + 0.5) / 1000); // seconds; +0.5 ms: float seconds may round down a ms
  fs.renameSync(tmp, out);
}

/** Builds kernel `name` from `srcDir` into `outDir` (both variants). */
export async function buildKernel(name, srcDir = HERE, outDir = path.join(HERE, 'build')) {
  const src = path.join(srcDir, `${name}.ts`);
  if (!fs.existsSync(src)) throw new Error(`kernel source ${src} not found`);
  fs.mkdirSync(outDir, { recursive: true });
  // whole milliseconds from the exact nanosecond times, as src/wasm/load.ts compares them
  const ms = (p) => Number(fs.statSync(p, { bigint: true }).mtimeNs / 1000000n);
  const stamp = Math.max(ms(src), ms(fileURLToPath(import.meta.url)));
  await compile(src, path.join(outDir, `${name}.wasm`), [], stamp);
  await compile(src, path.join(outDir, `${name}.shared.wasm`), SHARED_FLAGS, stamp);
}

async function cli(argv) {
  let srcDir = HERE,
    outDir = null;
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--src') srcDir = path.resolve(argv[++i]);
    else if (argv[i] === '--out') outDir = path.resolve(argv[++i]);
    else if (argv[i].startsWith('-')) throw new Error(`unknown option ${argv[i]}`);
    else names.push(argv[i]);
  }
  outDir ??= path.join(srcDir, 'build');
  if (names.length === 0) {
    for (const f of fs.readdirSync(srcDir).sort())
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) names.push(f.slice(0, -3));
  }
  for (const name of names) await buildKernel(name, srcDir, outDir);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
  });
}
