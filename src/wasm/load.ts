/**
 * Loads the compiled AssemblyScript kernel modules (sources in kernels/<name>.ts, built by kernels/build.mjs into
 * kernels/build/<name>.wasm and <name>.shared.wasm) and instantiates them on a given WebAssembly.Memory, normally
 * tfjs-backend-wasm's heap, so the kernels read and write tensors in place.
 *
 * - A module that is missing, or older than its source or than kernels/build.mjs, is (re)built first, synchronously,
 *   by running kernels/build.mjs (asc's JS API) in a child Node process: tests and a fresh clone work without a
 *   separate `npm run build:kernels`.
 * - The variant follows the memory: a shared memory (tfjs' threaded build) needs the module declaring a shared
 *   import, an unshared one the other (a wasm import matches only a memory of the same sharedness).
 * - Every module is checked before use: it must import exactly `env.memory` and have no data segment, since
 *   AssemblyScript would otherwise write its static data into tfjs' heap at its `--memoryBase`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';

// TypeScript 5.0 (tslab) declares WebAssembly only in the DOM lib, which tslab's compiler does not load: a
// minimal local view of the global.
/** A WebAssembly.Memory (only what the loader needs). */
export interface KernelMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface ModuleImport {
  module: string;
  name: string;
  kind: string;
}
interface WasmApi {
  Module: { new (bytes: Uint8Array): object; imports(m: object): ModuleImport[] };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The repository's kernels/ folder (sources and build script). */
const KERNELS_DIR = path.resolve(__dirname, '..', '..', 'kernels');
const BUILD_SCRIPT = path.join(KERNELS_DIR, 'build.mjs');

/** Where a kernel's source and build live (defaults: kernels/ and kernels/build/). */
export interface KernelDirs {
  srcDir?: string;
  outDir?: string;
}

/** Whether `memory` is a shared WebAssembly.Memory (its buffer a SharedArrayBuffer). */
function isSharedMemory(memory: KernelMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** Path of kernel `name`'s compiled module for a shared or an unshared memory. */
export function kernelWasmPath(name: string, shared: boolean, dirs: KernelDirs = {}): string {
  const outDir = dirs.outDir ?? path.join(dirs.srcDir ?? KERNELS_DIR, 'build');
  return path.join(outDir, `${name}${shared ? '.shared' : ''}.wasm`);
}

/** Modification time in whole milliseconds (kernels/build.mjs stamps outputs with their sources' time, to the ms). */
const mtime = (p: string): number => Number(fs.statSync(p, { bigint: true }).mtimeNs / BigInt(1000000));

/**
 * Makes sure kernel `name` is built and current: (re)builds both variants when either is missing or older than
 * kernels/<name>.ts or kernels/build.mjs (outputs carry the time of the inputs they were compiled from, so an edit
 * during a build leaves them stale). Returns the two paths. Throws, naming the source and
 * `npm run build:kernels`, when compilation fails.
 */
export function ensureKernelBuild(name: string, dirs: KernelDirs = {}): { plain: string; shared: string } {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`kernel name '${name}': letters, digits, _ and - only`);
  const srcDir = dirs.srcDir ?? KERNELS_DIR;
  const src = path.join(srcDir, `${name}.ts`);
  const plain = kernelWasmPath(name, false, dirs),
    shared = kernelWasmPath(name, true, dirs);
  if (!fs.existsSync(src)) throw new Error(`kernel source ${src} not found`);
  const newest = Math.max(mtime(src), fs.existsSync(BUILD_SCRIPT) ? mtime(BUILD_SCRIPT) : 0);
  const fresh = (p: string) => fs.existsSync(p) && mtime(p) >= newest;
  if (fresh(plain) && fresh(shared)) return { plain, shared };
  const args = [BUILD_SCRIPT, '--src', srcDir, '--out', path.dirname(plain), name];
  try {
    execFileSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: KERNELS_DIR });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    const detail = err.stderr && err.stderr.length ? err.stderr.toString().trim() : err.message;
    throw new Error(
      `could not compile the WebAssembly kernels ${src} (run \`npm run build:kernels\` to see why):\n${detail}`,
    );
  }
  if (!fs.existsSync(plain) || !fs.existsSync(shared))
    throw new Error(`building ${src} produced no ${plain} / ${shared}; run \`npm run build:kernels\``);
  return { plain, shared };
}

/**
 * The ids of a module's sections in order (binary format, WebAssembly core spec §5.5.2: magic, version, then
 * id byte + LEB128 size + body per section). Id 2 = imports, 11 = data, 12 = data count, 0 = custom.
 */
export function wasmSectionIds(bytes: Uint8Array): number[] {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new Error('not a WebAssembly 1.0 module');
  const ids: number[] = [];
  let p = 8;
  while (p < bytes.length) {
    const id = bytes[p++];
    let size = 0,
      shift = 0,
      b: number;
    do {
      if (p >= bytes.length) throw new Error('truncated WebAssembly module');
      b = bytes[p++];
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    if (p + size > bytes.length) throw new Error('truncated WebAssembly module');
    ids.push(id);
    p += size;
  }
  return ids;
}

const modules = new Map<string, object>();

/** Reads, checks and compiles a kernel module file (cached per path and modification time). */
function compiledModule(file: string): object {
  if (!WA) throw new Error('this runtime has no WebAssembly');
  const key = `${file}@${mtime(file)}`;
  const hit = modules.get(key);
  if (hit) return hit;
  const bytes = new Uint8Array(fs.readFileSync(file));
  const ids = wasmSectionIds(bytes);
  if (ids.includes(11) || ids.includes(12))
    throw new Error(`${file} has a data segment: it would write into the imported heap`);
  const mod = new WA.Module(bytes);
  const imports = WA.Module.imports(mod);
  if (
    imports.length !== 1 ||
    imports[0].module !== 'env' ||
    imports[0].name !== 'memory' ||
    imports[0].kind !== 'memory'
  ) {
    throw new Error(`${file} must import exactly env.memory, imports ${JSON.stringify(imports)}`);
  }
  modules.set(key, mod);
  return mod;
}

/**
 * Instantiates kernel module `name` (kernels/<name>.ts) on `memory`, building it first when needed; returns its
 * exports typed as `T` (the caller's interface of the exported functions; pointers are byte offsets into `memory`).
 * Throws when the module cannot be built or instantiated (e.g. a runtime without WebAssembly SIMD).
 */
export function loadKernels<T>(name: string, memory: KernelMemory, dirs: KernelDirs = {}): T {
  const paths = ensureKernelBuild(name, dirs);
  const mod = compiledModule(isSharedMemory(memory) ? paths.shared : paths.plain);
  return new WA!.Instance(mod, { env: { memory } }).exports as unknown as T;
}
