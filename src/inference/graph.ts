/**
 * Packed inference for DAG models: the binarized UNet (src/models/unet.ts, `binary: true`).
 *
 * The UNet's binarized layers see sign(x) of tensors built from BN outputs by max-pooling, nearest upsampling
 * and channel concatenation. All three commute with the sign, exactly:
 *   sign(max_i v_i) = +1 ⇔ max_i v_i ≥ 0 ⇔ ∃i v_i ≥ 0        → OR of the sign bits (any BN scale sign);
 *   upsampling copies values, concatenation stacks them        → the same on bits.
 * So every such tensor is carried as bits (sign(BN(y)) folded into a threshold on the integer y, as in spec.ts),
 * and the last conv (1×1 to the classes, no BN) gives integer logits per pixel, followed by a per-pixel softmax.
 *
 * `packGraph(model)` returns a PackedSpec whose `graph` lists the nodes (spec.ts' GraphNode); it is saved by
 * savePacked like a sequential one. `PackedGraphModel` runs it on the native engine (native.ts) or the fused wasm
 * engine (engine.ts) where they can (channel counts before a concatenation multiples of 16), else on the reference
 * interpreter (reference.ts: XNOR-popcount GEMMs of src/xnor with JS im2col; OR-pool, upsampling and concatenation
 * on 32-bit words in JS).
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, QuantConv2D } from '../layers';
import { convGeom, packKernel, words } from '../xnor';
import { bnParams } from './convert';
import { PackedRunner } from './packed';
import type { PackedOptions } from './packed';
import { finalOutputs, pooledSize, setPrediction, stagePost } from './spec';
import type { BnParams, GraphNode, PackedKernel, PackedSpec, PackedStage, Predictions } from './spec';

interface Value {
  node: number;
  /** conv output still waiting for its BN. */
  pending?: Omit<PackedStage, 'post'> & { bn: BnParams | null };
}

/** packGraph's walk over the layers: the graph's nodes and stages so far, each converted layer's value, the output node. */
interface GraphWalk {
  nodes: GraphNode[];
  stages: PackedStage[];
  values: Map<string, Value>;
  softmax: boolean;
  output: number;
}

/** Closes a conv's pending stage (BN + sign, or `final`: BN alone) and adds its 'conv' node; returns the node's index. */
function closeConv(s: GraphWalk, v: Value, final: boolean, name: string): number {
  const { bn, ...rest } = v.pending!;
  s.stages.push({ ...rest, post: stagePost(bn, rest.outC, final) });
  s.nodes.push({
    name,
    op: 'conv',
    inputs: [v.node],
    h: rest.outH,
    w: rest.outW,
    c: rest.outC,
    stage: s.stages.length - 1,
  });
  return s.nodes.length - 1;
}

/** Adds a node computed from the layer's input node(s) and records it as the layer's value. */
function addNode(s: GraphWalk, node: GraphNode): void {
  s.nodes.push(node);
  s.values.set(node.name, { node: s.nodes.length - 1 });
}

/** The node of `v` as bits: a BN output's signs (or an op on them); a conv's output before its BN, or the image, throw. */
function bitsNode(s: GraphWalk, v: Value, where: string): number {
  if (v.pending)
    throw new Error(
      `packGraph: ${where}: takes a binary layer's output before its BatchNorm; only BN outputs (signs) can be packed here`,
    );
  if (s.nodes[v.node].op === 'input')
    throw new Error(`packGraph: ${where}: takes the real image; only a first conv may`);
  return v.node;
}

/** Converts a binary QuantConv2D: its stage stays pending (value = its input node) until its BN or the softmax closes it. */
function addConv(s: GraphWalk, layer: QuantConv2D, where: string, src: Value): void {
  if (!layer.binaryKernel) throw new Error(`packGraph: ${where} has a real-valued kernel`);
  if (layer.useBias) throw new Error(`packGraph: ${where} has a bias; not supported`);
  const realInput = layer.inputQuantizer === null;
  let inNode: number;
  if (realInput) {
    if (s.nodes[src.node].op !== 'input' || src.pending)
      throw new Error(`packGraph: ${where}: a real-input conv must take the image`);
    inNode = src.node;
  } else {
    if (layer.inputQuantizer !== 'ste_sign')
      throw new Error(`packGraph: ${where}: unsupported input quantizer '${layer.inputQuantizer}'`);
    inNode = bitsNode(s, src, where);
  }
  const values0 = layer.kernelVariable().dataSync() as Float32Array;
  if (layer.kernelQuantizer === null && values0.some((v) => v !== 1 && v !== -1))
    throw new Error(`packGraph: ${where}: kernel values are not ±1 (train with Bop first, or call signKernels(model))`);
  const inp = s.nodes[inNode];
  const k = layer.kernelSize;
  const g = convGeom(inp.h, inp.w, inp.c, k, k, layer.strides, layer.strides, layer.padding);
  if (!(g.convH >= 1 && g.convW >= 1)) throw new Error(`packGraph: ${where}: kernel does not fit its input`);
  s.values.set(layer.name, {
    node: inNode,
    pending: {
      name: layer.name,
      input: realInput ? 'real' : 'binary',
      ...g,
      outC: layer.filters,
      pools: [],
      outH: g.convH,
      outW: g.convW,
      weights: packKernel(values0, { kh: k, kw: k, cin: inp.c, cout: layer.filters }),
      bn: null,
    },
  });
}

/** Adds an 'orpool' node for a 'valid' MaxPooling2D on bits. */
function addPool(s: GraphWalk, layer: tf.layers.Layer, where: string, src: Value): void {
  const cfg = layer.getConfig() as { poolSize: number[]; strides: number[] | null; padding: string };
  if (cfg.padding !== 'valid') throw new Error(`packGraph: ${where}: only 'valid' max-pooling is supported`);
  const n = s.nodes[bitsNode(s, src, where)];
  const size = cfg.poolSize as [number, number];
  const stride = (cfg.strides ?? cfg.poolSize) as [number, number];
  const h = pooledSize(n.h, size[0], stride[0]);
  const w = pooledSize(n.w, size[1], stride[1]);
  addNode(s, { name: layer.name, op: 'orpool', inputs: [s.nodes.indexOf(n)], h, w, c: n.c, pool: { size, stride } });
}

/** Adds an 'upsample' node for a nearest UpSampling2D on bits. */
function addUpsample(s: GraphWalk, layer: tf.layers.Layer, where: string, src: Value): void {
  const cfg = layer.getConfig() as { size: number[]; interpolation?: string };
  if ((cfg.interpolation ?? 'nearest') !== 'nearest')
    throw new Error(`packGraph: ${where}: only nearest upsampling is supported`);
  const ni = bitsNode(s, src, where);
  const n = s.nodes[ni];
  addNode(s, {
    name: layer.name,
    op: 'upsample',
    inputs: [ni],
    h: n.h * cfg.size[0],
    w: n.w * cfg.size[1],
    c: n.c,
    up: [cfg.size[0], cfg.size[1]],
  });
}

/** Adds a 'concat' node for a channel Concatenate of bits of one size. */
function addConcat(s: GraphWalk, layer: tf.layers.Layer, where: string, ins: Value[]): void {
  const axis = (layer.getConfig() as { axis: number }).axis;
  if (axis !== -1 && axis !== 3) throw new Error(`packGraph: ${where}: only channel concatenation is supported`);
  const ids = ins.map((v) => bitsNode(s, v, where));
  const n0 = s.nodes[ids[0]];
  if (ids.some((i) => s.nodes[i].h !== n0.h || s.nodes[i].w !== n0.w))
    throw new Error(`packGraph: ${where}: inputs differ in size`);
  addNode(s, {
    name: layer.name,
    op: 'concat',
    inputs: ids,
    h: n0.h,
    w: n0.w,
    c: ids.reduce((t, i) => t + s.nodes[i].c, 0),
  });
}

/** Converts layer `li` into the walk, or throws naming it (see the module comment for the supported layers). */
function addGraphLayer(s: GraphWalk, layer: tf.layers.Layer, li: number, inShape: number[]): void {
  const cls = layer.getClassName();
  const where = `layer ${li} '${layer.name}' (${cls})`;
  const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
  const ins = inbound.map((l) => {
    const v = s.values.get(l.name);
    if (!v) throw new Error(`packGraph: ${where}: input '${l.name}' was not converted`);
    return v;
  });
  if (cls === 'InputLayer') {
    const [H0, W0, C0] = inShape;
    addNode(s, { name: layer.name, op: 'input', inputs: [], h: H0, w: W0, c: C0 });
  } else if (layer instanceof QuantConv2D) {
    addConv(s, layer, where, ins[0]);
  } else if (layer instanceof BatchNorm) {
    const v = ins[0];
    if (!v?.pending || v.pending.bn)
      throw new Error(`packGraph: ${where}: BatchNorm must directly follow a binary conv`);
    v.pending.bn = bnParams(layer);
    s.values.set(layer.name, { node: closeConv(s, v, false, layer.name) });
  } else if (cls === 'MaxPooling2D') {
    addPool(s, layer, where, ins[0]);
  } else if (cls === 'UpSampling2D') {
    addUpsample(s, layer, where, ins[0]);
  } else if (cls === 'Concatenate') {
    addConcat(s, layer, where, ins);
  } else if (cls === 'Activation' && (layer.getConfig() as { activation: string }).activation === 'softmax') {
    const v = ins[0];
    if (!v?.pending) throw new Error(`packGraph: ${where}: softmax must follow the last binary conv directly`);
    s.output = closeConv(s, v, true, layer.name);
    s.softmax = true;
    s.values.set(layer.name, { node: s.output });
  } else {
    throw new Error(`packGraph: ${where} is not supported by packed graph inference`);
  }
}

/** Converts a functional binarized UNet-like model (see the module comment); anything else throws, naming the layer. */
export function packGraph(model: tf.LayersModel): PackedSpec {
  const inShape = model.inputs[0].shape.slice(1) as number[];
  if (model.inputs.length !== 1 || inShape.length !== 3 || inShape.some((d) => d === null))
    throw new Error(`packGraph: expected one NHWC image input with fixed size, got [${inShape.join(', ')}]`);
  const s: GraphWalk = { nodes: [], stages: [], values: new Map<string, Value>(), softmax: false, output: -1 };
  for (const [li, layer] of model.layers.entries()) addGraphLayer(s, layer, li, inShape);
  const outName = model.outputs[0].sourceLayer.name;
  const last = s.values.get(outName);
  if (last?.pending) s.output = closeConv(s, last, true, outName);
  else if (s.output < 0 || last?.node !== s.output)
    throw new Error('packGraph: the model must end with a binary conv (optionally + softmax)');
  const out = s.nodes[s.output];
  const [H0, W0, C0] = inShape;
  return {
    inputShape: [H0, W0, C0],
    numClasses: out.c,
    softmax: s.softmax,
    stages: s.stages,
    graph: { nodes: s.nodes, output: s.output },
  };
}

export interface PackedGraphPrediction extends Predictions {
  /** Last conv outputs [n][h·w·classes] (NHWC). */
  logits: Float32Array;
  /** Per-pixel softmax of the logits (= logits without a softmax). */
  probs: Float32Array;
  /** Per-pixel argmax [n][h·w]. */
  classes: Int32Array;
}

/**
 * Runs a graph PackedSpec (packGraph): on the native engine by default where it runs (native.ts), or on the fused
 * engine (layout.ts routes bits through OR-pools, upsampling and concatenation straight into the consumers' padded
 * images; the native engine runs the same layout) when it supports the graph and `kernel` is not 'js', else on the
 * reference interpreter (reference.ts). Kernels and options as PackedModel's.
 */
export class PackedGraphModel extends PackedRunner {
  constructor(spec: PackedSpec, kernel?: PackedKernel, opts: PackedOptions = {}) {
    super(spec, kernel, opts, true);
  }

  predict(images: tf.Tensor | Float32Array): PackedGraphPrediction {
    const [H, W, C] = this.spec.inputShape;
    const per = H * W * C;
    const data = images instanceof Float32Array ? images : (images.dataSync() as Float32Array);
    if (data.length % per !== 0)
      throw new Error(`PackedGraphModel.predict: ${data.length} values is not a whole number of ${H}×${W}×${C} images`);
    const n = data.length / per;
    const g = this.spec.graph!;
    const out = g.nodes[g.output];
    const k = out.c;
    const npx = out.h * out.w;
    const res: PackedGraphPrediction = {
      logits: new Float32Array(n * npx * k),
      probs: new Float32Array(n * npx * k),
      classes: new Int32Array(n * npx),
    };
    if (this.native) {
      const all = this.native.forward(data, n);
      const len = all.length / n;
      for (let i = 0; i < n; i++) {
        const y = this.finishFused(all.subarray(i * len, (i + 1) * len));
        for (let p = 0; p < npx; p++) setPrediction(res, i * npx + p, y, p * k, k, this.spec.softmax);
      }
      return res;
    }
    const batch = this.fused && n >= 2 ? this.fused.forwardBatch(data, n) : null; // 2 threads: whole images each
    for (let i = 0; i < n; i++) {
      const y = batch ? this.finishFused(batch[i]) : this.forwardOne(data.subarray(i * per, (i + 1) * per));
      for (let p = 0; p < npx; p++) setPrediction(res, i * npx + p, y, p * k, k, this.spec.softmax);
    }
    return res;
  }

  private finishFused(y: Int32Array): Float32Array {
    const g = this.spec.graph!;
    return finalOutputs(this.spec.stages[this.spec.stages.length - 1].post, y, g.nodes[g.output].c);
  }

  private forwardOne(image: Float32Array): Float32Array {
    const g = this.spec.graph!;
    if (this.fused)
      return this.finishFused(
        this.fused.forward(
          image,
          null,
          this.spec.stages.map((s) => s.name),
        ),
      );
    const vals: (Uint32Array | Float32Array)[] = [];
    for (const [i, nd] of g.nodes.entries()) {
      if (nd.op === 'input') vals[i] = image;
      else if (nd.op === 'conv') vals[i] = this.reference!.runStage(nd.stage!, vals[nd.inputs[0]]);
      else if (nd.op === 'orpool') vals[i] = orPool(vals[nd.inputs[0]] as Uint32Array, g.nodes[nd.inputs[0]], nd);
      else if (nd.op === 'upsample') vals[i] = upsample(vals[nd.inputs[0]] as Uint32Array, g.nodes[nd.inputs[0]], nd);
      else
        vals[i] = concat(
          nd.inputs.map((j) => [vals[j] as Uint32Array, g.nodes[j].c] as [Uint32Array, number]),
          nd,
        );
    }
    return vals[g.output] as Float32Array;
  }
}

/** OR of the bit words over each pool window (= sign of the max-pooled BN outputs). */
function orPool(x: Uint32Array, src: GraphNode, nd: GraphNode): Uint32Array {
  const cw = words(nd.c);
  const out = new Uint32Array(nd.h * nd.w * cw);
  const { size, stride } = nd.pool!;
  for (let oy = 0; oy < nd.h; oy++)
    for (let ox = 0; ox < nd.w; ox++)
      for (let dy = 0; dy < size[0]; dy++)
        for (let dx = 0; dx < size[1]; dx++) {
          const s = ((oy * stride[0] + dy) * src.w + ox * stride[1] + dx) * cw;
          const d = (oy * nd.w + ox) * cw;
          for (let j = 0; j < cw; j++) out[d + j] |= x[s + j];
        }
  return out;
}

/** Nearest-neighbour upsampling of bit words. */
function upsample(x: Uint32Array, src: GraphNode, nd: GraphNode): Uint32Array {
  const cw = words(nd.c);
  const out = new Uint32Array(nd.h * nd.w * cw);
  const [fy, fx] = nd.up!;
  for (let y = 0; y < nd.h; y++)
    for (let xx = 0; xx < nd.w; xx++)
      out.set(
        x.subarray(
          (Math.floor(y / fy) * src.w + Math.floor(xx / fx)) * cw,
          (Math.floor(y / fy) * src.w + Math.floor(xx / fx) + 1) * cw,
        ),
        (y * nd.w + xx) * cw,
      );
  return out;
}

/** Channel concatenation of bit tensors (inputs' unused high bits are 0). */
function concat(parts: [Uint32Array, number][], nd: GraphNode): Uint32Array {
  const cw = words(nd.c);
  const out = new Uint32Array(nd.h * nd.w * cw);
  const npx = nd.h * nd.w;
  let off = 0;
  for (const [x, c] of parts) {
    const xw = words(c);
    const sh = off & 31;
    const w0 = off >> 5;
    for (let p = 0; p < npx; p++)
      for (let j = 0; j < xw; j++) {
        const v = x[p * xw + j];
        out[p * cw + w0 + j] |= v << sh;
        if (sh !== 0 && w0 + j + 1 < cw) out[p * cw + w0 + j + 1] |= v >>> (32 - sh);
      }
    off += c;
  }
  return out;
}
