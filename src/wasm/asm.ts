/**
 * A tiny WebAssembly assembler, for code that must be generated at run time: the fused inference engine
 * (src/inference/engine.ts) writes one module per model, its GEMMs unrolled for each layer's exact shape. Functions
 * are arrays of instructions from the one opcode table `op`, assembled into a module by `assemble`. Fixed kernels
 * are AssemblyScript source instead (kernels/, loaded by src/wasm/load.ts).
 *
 * Encoding follows the WebAssembly core spec 2.0 (binary format, §5: modules §5.5, instructions §5.4) and the
 * fixed-width SIMD extension (prefix 0xfd, then the instruction's LEB128 index). Memory immediates are
 * (alignment as log2 of bytes, byte offset).
 */

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit values). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** A module section: id, byte length, body. */
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
/** A vector: count, then the items' bytes. */
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/** A name (ASCII). */
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const V128 = 0x7b;

/** A SIMD instruction: prefix 0xfd and its index (LEB128). */
const simd = (index: number, ...imm: number[]): number[] => [0xfd, ...uleb(index), ...imm];
/** A load or store: opcode, alignment (log2 bytes), offset. */
const mem =
  (opcode: number, align: number) =>
  (off = 0): number[] => [opcode, align, ...uleb(off)];
/** A SIMD load: its index, alignment, offset. */
const vmem =
  (index: number, align: number) =>
  (off = 0): number[] =>
    simd(index, align, ...uleb(off));

/** The instruction table: every instruction the generated code uses (add new ones here, in their group). */
export const op = {
  // control (§5.4.1); block and loop take no values and return none
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  // locals (§5.4.3)
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  // memory (§5.4.4)
  i32load: mem(0x28, 2),
  i64load: mem(0x29, 3),
  f32load: mem(0x2a, 2),
  i64load32u: mem(0x35, 2),
  i32store: mem(0x36, 2),
  i32store16: mem(0x3b, 1),
  // numeric (§5.4.5)
  i32c: (v: number) => [0x41, ...sleb(v)],
  i64c: (v: number) => [0x42, ...sleb(v)],
  i32ltu: [0x49],
  i32add: [0x6a],
  i32mul: [0x6c],
  i32shl: [0x74],
  i32shru: [0x76],
  i64popcnt: [0x7b],
  i64add: [0x7c],
  i64xor: [0x85],
  i32wrap: [0xa7],
  // SIMD: memory and constants
  v128load: vmem(0x00, 4),
  v128store: vmem(0x0b, 4),
  v128load32zero: vmem(0x5c, 2),
  v128load64zero: vmem(0x5d, 3),
  v128const0: simd(0x0c, ...new Array(16).fill(0)),
  shuffle: (lanes: number[]) => simd(0x0d, ...lanes),
  f32x4splat: simd(0x13),
  // SIMD: comparisons
  i32x4ges: simd(0x3f),
  f32x4ge: simd(0x46),
  // SIMD: bitwise
  v128xor: simd(0x51),
  // SIMD: integer lanes
  i8x16popcnt: simd(0x62),
  i8x16bitmask: simd(0x64),
  i8x16narrow: simd(0x65),
  i8x16add: simd(0x6e),
  i16x8extaddU: simd(0x7d),
  i32x4extaddU: simd(0x7f),
  i16x8narrow: simd(0x85),
  i32x4shl: simd(0xab),
  i32x4add: simd(0xae),
  i32x4sub: simd(0xb1),
  i32x4mul: simd(0xb5),
  i32x4maxs: simd(0xb8),
  // SIMD: float lanes
  f32x4add: simd(0xe4),
  f32x4mul: simd(0xe6),
  f32x4max: simd(0xe9),
};

/** A function body: its locals as [count, type] groups, then the code (without the final `end`, added here). */
export function funcBody(locals: [number, number][], code: number[]): number[] {
  const f = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, ...op.end];
  return [...uleb(f.length), ...f];
}

export interface ModuleSpec {
  /** Each function's parameter types (all return nothing) and body from `funcBody`; exported under `name`. */
  funcs: { name: string; params: number[]; body: number[] }[];
  /**
   * The one linear memory, imported as env.mem: at least `min` pages (64 KiB each), at most `max` (required when
   * `shared`; the importer's memory must match in sharedness).
   */
  memory: { min: number; max?: number; shared?: boolean };
}

/** Assembles a module: types (one per distinct signature), the memory import, the functions and their exports. */
export function assemble(spec: ModuleSpec): Uint8Array {
  const sigs = spec.funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]);
  const keys = [...new Set(sigs.map((s) => s.join(',')))];
  const { min, max, shared } = spec.memory;
  if (shared && max === undefined) throw new Error('assemble: a shared memory needs a maximum size');
  const limits = max === undefined ? [0x00, ...uleb(min)] : [shared ? 0x03 : 0x01, ...uleb(min), ...uleb(max)];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(keys.map((k) => k.split(',').map(Number)))),
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, ...limits]])),
    ...section(3, vec(sigs.map((s) => uleb(keys.indexOf(s.join(',')))))),
    ...section(7, vec(spec.funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(spec.funcs.map((f) => f.body))),
  ];
  return new Uint8Array(bytes);
}

// TypeScript 5.0 (tslab) declares WebAssembly only in the DOM lib, which tslab's compiler does not load: a
// minimal local view of the global, so files using it compile in notebooks too.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export type WasmModule = object;
export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
  Memory?: new (desc: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
/** The runtime's WebAssembly object, or undefined where there is none. */
export const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
