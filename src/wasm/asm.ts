/**
 * A tiny WebAssembly assembler: enough to write small SIMD kernels as arrays of bytes, with no toolchain
 * (no compiler is reachable here, and the kernels are a few hundred bytes). Used by the packed inference
 * kernels (src/inference/kernels.ts) and by the training kernels (src/backend).
 *
 * Encoding follows the WebAssembly core spec 2.0 (binary format, §5) and the fixed-width SIMD proposal
 * (opcodes 0xfd xx). Extend `op` in your own module with `{ ...op, more }` rather than editing this table,
 * so kernels written in parallel do not touch the same lines.
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
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
export function sleb(n: number): number[] {
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
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
/** A vector: count, then the items' bytes. */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/** A name (ASCII). */
export const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Instructions used so far (memory immediates: alignment log2, offset). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32c: (v: number) => [0x41, ...sleb(v)],
  i64c: (v: number) => [0x42, ...sleb(v)],
  i32add: [0x6a],
  i32mul: [0x6c],
  i32ltu: [0x49],
  i32shl: [0x74],
  i32store: (off = 0) => [0x36, 2, ...uleb(off)],
  i64load: (off = 0) => [0x29, 3, ...uleb(off)],
  i64xor: [0x85],
  i64popcnt: [0x7b],
  i64add: [0x7c],
  i32wrap: [0xa7],
  f32load: (off = 0) => [0x2a, 2, ...uleb(off)],
  v128load: (off = 0) => [0xfd, 0x00, 4, ...uleb(off)],
  v128store: (off = 0) => [0xfd, 0x0b, 4, ...uleb(off)],
  v128const0: [0xfd, 0x0c, ...new Array(16).fill(0)],
  v128xor: [0xfd, 0x51],
  i8x16popcnt: [0xfd, 0x62],
  i16x8extaddU: [0xfd, 0x7d],
  i32x4extaddU: [0xfd, 0x7f],
  i16x8add: [0xfd, 0x8e, 0x01],
  i32x4lane: (l: number) => [0xfd, 0x1b, l],
  f32x4splat: [0xfd, 0x13],
  f32x4add: [0xfd, 0xe4, 0x01],
  f32x4mul: [0xfd, 0xe6, 0x01],
};

/** A function body: its locals as [count, type] groups, then the code (without the final `end`, added here). */
export function funcBody(locals: [number, number][], code: number[]): number[] {
  const f = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, ...op.end];
  return [...uleb(f.length), ...f];
}

export interface ModuleSpec {
  /** Each function's parameter types (all return nothing) and body from `funcBody`. */
  funcs: { name: string; params: number[]; body: number[] }[];
  /** Initial memory pages (64 KiB each), exported as "mem". */
  memoryPages?: number;
}

/** Assembles a module with one exported memory ("mem") and the given exported functions. */
export function assemble(spec: ModuleSpec): Uint8Array {
  const types = spec.funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(spec.funcs.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(spec.memoryPages ?? 1)]])),
    ...section(7, vec([...spec.funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]), [...str('mem'), 0x02, 0]])),
    ...section(10, vec(spec.funcs.map((f) => f.body))),
  ];
  return new Uint8Array(bytes);
}

// TypeScript 5.0 (tslab) declares WebAssembly only in the DOM lib, which tslab's compiler does not load: a
// minimal local view of the global, so files using it compile in notebooks too.
export interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
export type WasmModule = object;
export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
  Memory?: new (desc: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
/** The runtime's WebAssembly object, or undefined where there is none. */
export const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
