/**
 * One-file format of a packed model:
 *
 *   bytes 0..3   magic "BNNP"
 *   bytes 4..7   header length L (uint32, little-endian)
 *   bytes 8..    header: UTF-8 JSON {format: 'bnn-packed', version: 1, inputShape, numClasses, softmax,
 *                stages: [{...stage fields, arrays: {name: {dtype, offset, length}}}]}
 *   padding to a multiple of 8, then the data section: the typed arrays (little-endian), each 8-aligned,
 *   offsets relative to the data section.
 *
 * Arrays: weights (uint32, 32 kernel signs per word), thresholds t (float32) and neg flags (uint8) for
 * binarizing stages, BN mean/inv/beta (float32) for the last stage.
 */
import * as fs from 'fs';
import type { PackedSpec, PackedStage, PostOp } from './spec';

const MAGIC = 'BNNP';
type Typed = Uint32Array | Float32Array | Uint8Array;
const DTYPES = { uint32: Uint32Array, float32: Float32Array, uint8: Uint8Array } as const;
type DtypeName = keyof typeof DTYPES;

function dtypeOf(a: Typed): DtypeName {
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Float32Array) return 'float32';
  return 'uint8';
}

/** Serializes a PackedSpec to one binary buffer (see the module comment). */
export function encodePacked(spec: PackedSpec): Uint8Array {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
    throw new Error('encodePacked: big-endian hosts are not supported');
  const chunks: Typed[] = [];
  let offset = 0;
  const put = (a: Typed) => {
    const entry = { dtype: dtypeOf(a), offset, length: a.length };
    chunks.push(a);
    offset += Math.ceil(a.byteLength / 8) * 8;
    return entry;
  };
  const stages = spec.stages.map((s) => {
    const { weights, post, ...meta } = s;
    const arrays: Record<string, ReturnType<typeof put>> = { weights: put(weights) };
    if (post.kind === 'threshold') {
      arrays.t = put(post.t);
      arrays.neg = put(post.neg);
    } else if (post.kind === 'affine') {
      arrays.mean = put(post.mean);
      arrays.inv = put(post.inv);
      arrays.beta = put(post.beta);
    }
    return { ...meta, post: post.kind, arrays };
  });
  const header = {
    format: 'bnn-packed',
    version: 1,
    inputShape: spec.inputShape,
    numClasses: spec.numClasses,
    softmax: spec.softmax,
    stages,
    ...(spec.graph ? { graph: spec.graph } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((8 + json.length) / 8) * 8;
  const out = new Uint8Array(dataStart + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  let o = dataStart;
  for (const a of chunks) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += Math.ceil(a.byteLength / 8) * 8;
  }
  return out;
}

/** Parses what `encodePacked` wrote; `source` names the file in error messages. */
export function decodePacked(bytes: Uint8Array, source = 'packed model'): PackedSpec {
  const bad = (why: string) =>
    new Error(`${source}: not a valid packed BNN file (${why}); re-export it with savePacked()`);
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw bad('bad magic');
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + len > bytes.length) throw bad('truncated header');
  let header: {
    format: string;
    version: number;
    inputShape: [number, number, number];
    numClasses: number;
    softmax: boolean;
    graph?: PackedSpec['graph'];
    stages: (Omit<PackedStage, 'weights' | 'post'> & {
      post: PostOp['kind'];
      arrays: Record<string, { dtype: DtypeName; offset: number; length: number }>;
    })[];
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  } catch (e) {
    throw bad(`header is not JSON: ${(e as Error).message}`);
  }
  if (header.format !== 'bnn-packed' || header.version !== 1)
    throw bad(`format ${header.format} v${header.version}, expected bnn-packed v1`);
  const dataStart = Math.ceil((8 + len) / 8) * 8;
  const arr = (stage: string, name: string, e?: { dtype: DtypeName; offset: number; length: number }) => {
    if (!e || !(e.dtype in DTYPES)) throw bad(`stage ${stage}: array '${name}' missing or of unknown type`);
    const C = DTYPES[e.dtype];
    const start = dataStart + e.offset;
    const end = start + e.length * C.BYTES_PER_ELEMENT;
    if (end > bytes.length) throw bad(`stage ${stage}: array '${name}' runs past the end of the file`);
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(start, end));
    return new C(copy.buffer);
  };
  const stages: PackedStage[] = header.stages.map((h) => {
    const { arrays, post: kind, ...meta } = h;
    let post: PostOp;
    if (kind === 'threshold')
      post = { kind, t: arr(h.name, 't', arrays.t) as Float32Array, neg: arr(h.name, 'neg', arrays.neg) as Uint8Array };
    else if (kind === 'affine')
      post = {
        kind,
        mean: arr(h.name, 'mean', arrays.mean) as Float32Array,
        inv: arr(h.name, 'inv', arrays.inv) as Float32Array,
        beta: arr(h.name, 'beta', arrays.beta) as Float32Array,
      };
    else if (kind === 'identity') post = { kind };
    else throw bad(`stage ${h.name}: unknown post-op '${kind as string}'`);
    return { ...meta, weights: arr(h.name, 'weights', arrays.weights) as Uint32Array, post };
  });
  const spec: PackedSpec = {
    inputShape: header.inputShape,
    numClasses: header.numClasses,
    softmax: header.softmax,
    stages,
  };
  if (header.graph) spec.graph = header.graph;
  return spec;
}

/** Writes the packed model to `file` (one binary file); returns its size in bytes. */
export function savePacked(spec: PackedSpec, file: string): number {
  const bytes = encodePacked(spec);
  fs.writeFileSync(file, bytes);
  return bytes.length;
}

/** Reads a file written by `savePacked`. */
export function loadPacked(file: string): PackedSpec {
  if (!fs.existsSync(file))
    throw new Error(`loadPacked: no file at ${file} (write one with savePacked(packModel(model), file))`);
  return decodePacked(new Uint8Array(fs.readFileSync(file)), file);
}
