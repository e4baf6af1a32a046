// Backend selection: env forcing (BNN_BACKEND / BNN_THREADS), clear errors, idempotence, threaded wasm exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendFromEnv, describeBackend, initBackend, threadsFromEnv } from '../src/backend';

const ROOT = path.resolve(__dirname, '..');

/** Run a snippet in a fresh node (with tsx) with the given env; returns status, stdout, stderr. */
function child(code: string, env: Record<string, string>, timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: ROOT, env: { ...process.env, BNN_BACKEND: '', BNN_THREADS: '', ...env }, encoding: 'utf8', timeout: timeoutMs,
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
  try { require.resolve(name, { paths: [ROOT] }); return true; } catch { return false; }
}

test('BNN_BACKEND=tensorflow without tfjs-node: non-zero exit with a clear message', { skip: hasPkg('@tensorflow/tfjs-node') || hasPkg('@tensorflow/tfjs-node-gpu') }, () => {
  const r = child(PRINT, { BNN_BACKEND: 'tensorflow' });
  assert.notEqual(r.status, 0, 'should fail');
  assert.match(r.err, /BNN_BACKEND=tensorflow/);
  assert.match(r.err, /@tensorflow\/tfjs-node/);
  assert.doesNotMatch(r.out, /DESC/, 'must not fall back silently');
});

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

test('auto-selection without BNN_BACKEND picks wasm here and reports why tensorflow was skipped', { skip: hasPkg('@tensorflow/tfjs-node') }, () => {
  const r = child(`require('./src/backend').initBackend().then(i => console.log('INFO ' + JSON.stringify(i)))`, { BNN_THREADS: '1' });
  assert.equal(r.status, 0, r.err);
  const info = JSON.parse(/INFO (.*)/.exec(r.out)![1]);
  assert.equal(info.name, 'wasm');
  assert.equal(info.threads, 1);
  assert.match(info.skipped.join(' '), /tensorflow/);
});

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
