/**
 * Threaded (pthreads + SIMD) build of @tensorflow/tfjs-backend-wasm 4.22 inside Node.
 *
 * Upstream disables threads in Node (flag WASM_HAS_MULTITHREAD_SUPPORT is false there; tfjs issue #3830)
 * because Emscripten's pthread glue starts its workers from `blob:` URLs, which Node's worker_threads refuses
 * (ERR_WORKER_PATH). We make it work by:
 *   1. replacing the global `Blob` / `URL.createObjectURL` while the backend initializes, so the two scripts the
 *      glue serializes (the worker bootstrap and the module factory) are written to temp files whose *paths* are
 *      handed to `new Worker(path)`; a small prelude defines the bundle-level names the factory source refers to
 *      (`require$$0..4`, `commonjsGlobal`, `_scriptDir`);
 *   2. reporting twice `os.cpus()` during `setBackend`, because backend.cc caps the pool at
 *      emscripten_num_logical_cores()/2 (= 1 on a 2-vCPU machine);
 *   3. after init, pointing the module's `locateFile` / `mainScriptUrlOrBlob` at the temp files so workers spawned
 *      later still load, and `unref()`-ing the long-lived pool workers so they do not keep Node alive
 *      (see `unrefWasmWorkers`).
 * The temp directory is removed at process exit.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
// the real module object (a namespace import is a frozen wrapper; we must patch os.cpus on the module itself)
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object itself, patched below
const os: typeof import('os') = require('os');

const PRELUDE =
  'URL.createObjectURL=(b)=>(b&&b.__path)?b.__path:String(b);URL.revokeObjectURL=()=>{};' +
  'var commonjsGlobal=globalThis,_scriptDir=(typeof location!=="undefined"&&location.href)||undefined;' +
  'var require$$0=require("fs"),require$$1=require("path"),require$$3=require("perf_hooks"),require$$4=require("os");\n';

let tmpDir: string | null = null;
let fileCount = 0;
/** Paths of the scripts written during init: worker bootstrap (.worker.js) and module factory. */
const threadScripts: { worker?: string; main?: string } = {};

function ensureTmpDir(): string {
  if (tmpDir == null) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-tfjs-wasm-mt-'));
    const dir = tmpDir;
    process.on('exit', () => {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    });
  }
  return tmpDir;
}

/** A stand-in for Blob that writes its content (with PRELUDE) to a temp file; structured-clones as {__path,type}. */
class FileBlob {
  __path: string;
  type: string;
  constructor(parts: unknown[] = [], opts: { type?: string } = {}) {
    const dir = ensureTmpDir();
    this.__path = path.join(dir, `blob${fileCount++}.js`);
    this.type = opts.type || '';
    const text = parts.map(String).join('');
    fs.writeFileSync(this.__path, PRELUDE + text);
    if (text.startsWith('var WasmBackendModuleThreadedSimd')) threadScripts.main = this.__path;
    else threadScripts.worker = this.__path;
  }
}

/**
 * Initialize tfjs' wasm backend with its threaded SIMD binary and `threads` threads (>= 2). Must run before any
 * other `setBackend('wasm')` in this process. Returns the thread count the backend reports.
 */
export async function initWasmThreaded(threads: number): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the threaded wasm backend starts
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const g = globalThis as any;
  const origBlob = g.Blob;
  const origCreate = URL.createObjectURL;
  const realCpus = os.cpus;
  g.Blob = FileBlob;
  (URL as any).createObjectURL = (b: any) => (b && b.__path ? b.__path : origCreate.call(URL, b));
  (os as any).cpus = () => {
    const c = realCpus.call(os);
    return [...c, ...c];
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  try {
    wasm.setThreadsCount(threads);
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('tf.setBackend("wasm") failed while starting the threaded wasm build');
    await tf.ready();
  } finally {
    g.Blob = origBlob;
    (URL as any).createObjectURL = origCreate;
    (os as any).cpus = realCpus;
  }
  const mod = (tf.backend() as any).wasm;
  if (mod && threadScripts.worker) {
    const prevLocate = mod.locateFile;
    const workerPath = threadScripts.worker;
    mod.locateFile = (p: string, prefix: string) =>
      p.endsWith('.worker.js') ? workerPath : prevLocate ? prevLocate(p, prefix) : prefix + p;
  }
  if (mod && threadScripts.main) mod.mainScriptUrlOrBlob = threadScripts.main;
  unrefWasmWorkers();
  return wasm.getThreadsCount();
}

/**
 * Let Node exit while the wasm thread pool is alive: Emscripten `ref()`s a worker while it runs a pthread, and
 * XNNPACK's pool threads run forever. Unref'd workers keep working; they just stop holding the event loop open.
 */
export function unrefWasmWorkers(): number {
  let mod: any;
  try {
    mod = (tf.findBackend('wasm') as any)?.wasm;
  } catch {
    return 0;
  }
  const pt = mod && mod.PThread;
  if (!pt) return 0;
  let n = 0;
  for (const w of [...(pt.runningWorkers || []), ...(pt.unusedWorkers || [])]) {
    if (w && typeof w.unref === 'function') {
      w.unref();
      n++;
    }
  }
  return n;
}
