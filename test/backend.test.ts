// Backend selection: env forcing (BNN_BACKEND / BNN_THREADS), clear errors, idempotence, threaded wasm exits;
// the loader of the compiled AssemblyScript kernels (src/wasm/load.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendFromEnv, describeBackend, initBackend, threadsFromEnv } from '../src/backend';
import { ensureKernelBuild, kernelWasmPath, loadKernels, wasmSectionIds } from '../src/wasm/load';

const ROOT = path.resolve(__dirname, '..');

/** Run a snippet in a fresh node (with tsx) with the given env; returns status, stdout, stderr. */
function child(code: string, env: Record<string, string>, timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: ROOT,
    env: { ...process.env, BNN_BACKEND: '', BNN_THREADS: '', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const PRINT = `const b = require('./src/backend'); const tf = require('@tensorflow/tfjs');
b.initBackend().then(() => {
  const x = tf.tensor4d(Array.from({length: 2*6*6*3}, (_, i) => Math.sin(i)), [2, 6, 6, 3]);
  const w = tf.tensor4d(Array.from({length: 3*3*3*4}, (_, i) => Math.cos(i)), [3, 3, 3, 4]);
  const g = tf.grad((w) => tf.sum(tf.square(tf.conv2d(x, w, 1, 'same'))))(w);
  console.log('DESC ' + b.describeBackend());
  console.log('SUM ' + g.sum().dataSync()[0]);
});`;

function hasPkg(name: string): boolean {
  try {
    require.resolve(name, { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

test(
  'BNN_BACKEND=tensorflow without tfjs-node: non-zero exit with a clear message',
  { skip: hasPkg('@tensorflow/tfjs-node') || hasPkg('@tensorflow/tfjs-node-gpu') },
  () => {
    const r = child(PRINT, { BNN_BACKEND: 'tensorflow' });
    assert.notEqual(r.status, 0, 'should fail');
    assert.match(r.err, /BNN_BACKEND=tensorflow/);
    assert.match(r.err, /@tensorflow\/tfjs-node/);
    assert.doesNotMatch(r.out, /DESC/, 'must not fall back silently');
  },
);

test('unknown BNN_BACKEND and bad BNN_THREADS are rejected', () => {
  const r = child(PRINT, { BNN_BACKEND: 'gpu' });
  assert.notEqual(r.status, 0);
  assert.match(r.err, /BNN_BACKEND='gpu' is not one of tensorflow\|wasm\|cpu/);
  const r2 = child(PRINT, { BNN_BACKEND: 'wasm', BNN_THREADS: '0' });
  assert.notEqual(r2.status, 0);
  assert.match(r2.err, /BNN_THREADS='0' must be a positive integer/);
  assert.throws(() => backendFromEnv({ BNN_BACKEND: 'tpu' }), /tensorflow\|wasm\|cpu/);
  assert.equal(backendFromEnv({ BNN_BACKEND: ' WASM ' }), 'wasm');
  assert.equal(backendFromEnv({}), undefined);
  assert.equal(threadsFromEnv({ BNN_THREADS: '2' }), 2);
  assert.throws(() => threadsFromEnv({ BNN_THREADS: '1.5' }), /positive integer/);
});

test('BNN_BACKEND=cpu, wasm 1 thread and wasm 2 threads: same gradient; threaded process exits on its own', () => {
  const cpu = child(PRINT, { BNN_BACKEND: 'cpu' });
  assert.equal(cpu.status, 0, cpu.err);
  assert.match(cpu.out, /DESC backend=cpu \(tfjs-backend-cpu \d+\.\d+\.\d+, 1 thread\)/);
  const w1 = child(PRINT, { BNN_BACKEND: 'wasm', BNN_THREADS: '1' });
  assert.equal(w1.status, 0, w1.err);
  assert.match(w1.out, /DESC backend=wasm \(tfjs-backend-wasm \d+\.\d+\.\d+, SIMD, 1 thread\)/);
  const w2 = child(PRINT, { BNN_BACKEND: 'wasm', BNN_THREADS: '2' }, 30_000); // no process.exit in PRINT
  assert.equal(w2.signal, null, 'threaded wasm process did not exit by itself');
  assert.equal(w2.status, 0, w2.err);
  assert.match(w2.out, /DESC backend=wasm \(tfjs-backend-wasm \d+\.\d+\.\d+, SIMD, 2 threads\)/);
  const sum = (o: string) => Number(/SUM (\S+)/.exec(o)![1]);
  const ref = sum(cpu.out);
  for (const o of [w1.out, w2.out]) assert.ok(Math.abs(sum(o) - ref) <= 1e-4 * Math.abs(ref), `${sum(o)} vs ${ref}`);
});

test(
  'auto-selection without BNN_BACKEND picks wasm here and reports why tensorflow was skipped',
  { skip: hasPkg('@tensorflow/tfjs-node') },
  () => {
    const r = child(`require('./src/backend').initBackend().then(i => console.log('INFO ' + JSON.stringify(i)))`, {
      BNN_THREADS: '1',
    });
    assert.equal(r.status, 0, r.err);
    const info = JSON.parse(/INFO (.*)/.exec(r.out)![1]);
    assert.equal(info.name, 'wasm');
    assert.equal(info.threads, 1);
    assert.match(info.skipped.join(' '), /tensorflow/);
  },
);

test('in-process: initBackend is idempotent; describeBackend; thread count cannot change once started', async () => {
  const a = await initBackend({ backend: 'cpu' });
  assert.equal(a.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  const b = await initBackend({ backend: 'cpu' });
  assert.deepEqual(b, a);
  assert.match(describeBackend(), /^backend=cpu \(tfjs-backend-cpu [\d.]+, 1 thread\)$/);
  const w = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(w.threads, 1);
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(await initBackend({ backend: 'wasm' }), w);
  await assert.rejects(initBackend({ backend: 'wasm', threads: 2 }), /already started with 1 thread/);
  await assert.rejects(initBackend({ backend: 'nope' as any }), /not one of/);
  await initBackend({ backend: 'cpu' });
  assert.equal(tf.getBackend(), 'cpu');
});

test('kernel modules: no data segment, import exactly env.memory, one build per memory sharedness', () => {
  const { plain, shared } = ensureKernelBuild('train');
  for (const file of [plain, shared]) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const ids = wasmSectionIds(bytes);
    assert.ok(ids.includes(10), `${file}: has a code section`);
    assert.ok(!ids.includes(11) && !ids.includes(12), `${file}: data section(s) in ${ids}`);
    const mod = new WebAssembly.Module(bytes);
    assert.deepEqual(WebAssembly.Module.imports(mod), [{ module: 'env', name: 'memory', kind: 'memory' }]);
    // functions only: no exported memory, globals (heap/stack pointers) or table
    const exps = WebAssembly.Module.exports(mod);
    assert.ok(exps.length >= 12 && exps.every((e) => e.kind === 'function'), JSON.stringify(exps));
  }
  const mem = new WebAssembly.Memory({ initial: 1 });
  const smem = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  assert.equal(typeof loadKernels<Record<string, unknown>>('train', mem).larqSign, 'function');
  assert.equal(typeof loadKernels<Record<string, unknown>>('train', smem).larqSign, 'function');
  // a shared import cannot take an unshared memory, and vice versa: hence the two builds
  const inst = (file: string, memory: WebAssembly.Memory) =>
    new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(file)), { env: { memory } });
  assert.throws(() => inst(shared, mem));
  assert.throws(() => inst(plain, smem));
  assert.throws(() => wasmSectionIds(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])), /not a WebAssembly/);
});

test('kernel loader builds a missing module, rebuilds a stale one, names the file on a compile error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-kernels-'));
  try {
    const src = path.join(dir, 'k.ts');
    fs.writeFileSync(src, 'export function twice(p: usize): void { store<f32>(p, load<f32>(p) * 2); }\n');
    const dirs = { srcDir: dir };
    assert.ok(!fs.existsSync(kernelWasmPath('k', false, dirs)));
    const built = ensureKernelBuild('k', dirs);
    assert.equal(built.plain, path.join(dir, 'build', 'k.wasm'));
    const mem = new WebAssembly.Memory({ initial: 1 });
    new Float32Array(mem.buffer)[3] = 1.5;
    loadKernels<{ twice(p: number): void }>('k', mem, dirs).twice(12);
    assert.equal(new Float32Array(mem.buffer)[3], 3);
    // up to date (newer than its source and the build script): not rebuilt, the file is left untouched
    const later = Date.now() / 1000 + 1000;
    fs.utimesSync(built.plain, later, later);
    ensureKernelBuild('k', dirs);
    assert.equal(Math.round(fs.statSync(built.plain).mtimeMs / 1000), Math.round(later));
    // source newer than the module: rebuilt, and the new code runs
    const earlier = Date.now() / 1000 - 1000;
    fs.utimesSync(built.plain, earlier, earlier);
    fs.writeFileSync(src, 'export function twice(p: usize): void { store<f32>(p, load<f32>(p) * 3); }\n');
    loadKernels<{ twice(p: number): void }>('k', mem, dirs).twice(12);
    assert.equal(new Float32Array(mem.buffer)[3], 9);
    // stamped with the source's time (not the build's), so an edit made during a build would leave it stale
    assert.equal(Math.floor(fs.statSync(built.plain).mtimeMs), Math.floor(fs.statSync(src).mtimeMs));
    // missing again (deleted): rebuilt
    fs.rmSync(built.shared);
    ensureKernelBuild('k', dirs);
    assert.ok(fs.existsSync(built.shared));
    // a compile error names the source and the build command
    fs.writeFileSync(path.join(dir, 'bad.ts'), 'export function f(): void { undefinedThing(); }\n');
    assert.throws(
      () => ensureKernelBuild('bad', dirs),
      (e: Error) =>
        /bad\.ts/.test(e.message) && /npm run build:kernels/.test(e.message) && /undefinedThing/.test(e.message),
    );
    assert.throws(() => ensureKernelBuild('none', dirs), /none\.ts not found/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
