/**
 * src/xnor: the bit layout of ±1 values, popcount, im2col of bits, the exact zero-padding correction and the generic
 * XNOR-popcount GEMMs (kernels/xnor.ts on wasm SIMD and i64, and JS), against plain definitions: a ±1 convolution
 * computed as integer sums over the taps inside the image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import { ensureKernelBuild, wasmSectionIds } from '../src/wasm/load';
import {
  availableKernels,
  convGeom,
  createKernel,
  im2colBits,
  packActivations,
  packKernel,
  padBefore,
  paddedTaps,
  paddingTable,
  popcount32,
  tapPopcounts,
  unpackKernel,
  words,
  xnorOutputs,
} from '../src/xnor';
import type { ConvGeom, KernelName } from '../src/xnor';
import { Rng } from '../src/random';

const pm1 = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1));

test('popcount32 counts the set bits of any 32-bit word', () => {
  const rng = new Rng(1);
  const vals = [
    0,
    1,
    0xffffffff,
    0x80000000,
    0x55555555,
    0xaaaaaaaa,
    12345678,
    ...Array.from({ length: 200 }, () => Math.floor(rng.next() * 2 ** 32)),
  ];
  for (const v of vals) {
    let c = 0;
    for (let b = 0; b < 32; b++) c += (v >>> b) & 1;
    assert.equal(popcount32(v), c, `popcount32(${v})`);
    assert.equal(popcount32(v | 0), c, 'signed view of the same word');
  }
});

test('packKernel: bit (c mod 32) of word tap·words(cin) + ⌊c/32⌋ of row o is w[tap][c][o] ≥ 0; high bits 0; unpackKernel inverts it', () => {
  const rng = new Rng(2);
  for (const [kh, kw, cin, cout] of [
    [3, 3, 3, 5],
    [1, 1, 32, 4],
    [2, 3, 33, 7],
    [3, 3, 70, 2],
  ]) {
    const k = { kh, kw, cin, cout };
    const w = Float32Array.from({ length: kh * kw * cin * cout }, () => rng.next() - 0.5);
    w[0] = 0; // sign(0) = +1
    const bits = packKernel(w, k);
    const cw = words(cin);
    assert.equal(bits.length, cout * kh * kw * cw);
    for (let o = 0; o < cout; o++)
      for (let t = 0; t < kh * kw; t++)
        for (let c = 0; c < cw * 32; c++) {
          const bit = (bits[(o * kh * kw + t) * cw + (c >> 5)] >>> (c & 31)) & 1;
          assert.equal(bit, c < cin ? +(w[(t * cin + c) * cout + o] >= 0) : 0, `o ${o} tap ${t} c ${c}`);
        }
    const back = unpackKernel(bits, k);
    assert.deepEqual(
      Array.from(back),
      Array.from(w, (v) => (v >= 0 ? 1 : -1)),
    );
    // tap popcounts: the +1 weights of each (output, tap)
    const pc = tapPopcounts(bits, k);
    for (let o = 0; o < cout; o++)
      for (let t = 0; t < kh * kw; t++) {
        let n = 0;
        for (let c = 0; c < cin; c++) n += +(w[(t * cin + c) * cout + o] >= 0);
        assert.equal(pc[o * kh * kw + t], n);
      }
  }
});

test("packKernel: rows of rowWords words at outWord, zero-filled; 'exact' refuses non-±1 values; clear errors", () => {
  const rng = new Rng(3);
  const k = { kh: 3, kw: 3, cin: 5, cout: 3 };
  const w = pm1(rng, 3 * 3 * 5 * 3);
  const plain = packKernel(w, k);
  const out = new Uint32Array(100).fill(0xdeadbeef);
  assert.equal(packKernel(w, k, { mode: 'exact', rowWords: 12, rows: 4, out, outWord: 8 }), out);
  for (let o = 0; o < 4; o++)
    for (let j = 0; j < 12; j++)
      assert.equal(out[8 + o * 12 + j], o < 3 && j < 9 ? plain[o * 9 + j] : 0, `row ${o} word ${j}`);
  assert.equal(out[7], 0xdeadbeef, 'nothing before outWord');
  assert.equal(out[8 + 48], 0xdeadbeef, 'nothing after the rows');
  assert.deepEqual(Array.from(tapPopcounts(out, k, 12, 8)), Array.from(tapPopcounts(plain, k)));
  const bad = w.slice();
  bad[17] = 0.5;
  assert.equal(packKernel(bad, k, { mode: 'exact' }), null);
  bad[17] = NaN;
  assert.throws(() => packKernel(bad, k), /NaN in the kernel/);
  assert.throws(() => packKernel(w.subarray(1), k), /values for a 3×3×5×3 kernel/);
  assert.throws(() => packKernel(w, k, { rowWords: 8 }), /cannot hold/);
});

test('packActivations: ±1 → bits per pixel, unused high bits 0; a value that is not ±1 is refused', () => {
  const rng = new Rng(4);
  const npix = 5,
    c = 40;
  const x = pm1(rng, npix * c);
  const dst = new Uint32Array(npix * words(c));
  assert.ok(packActivations(x, npix, c, dst));
  for (let p = 0; p < npix; p++)
    for (let ch = 0; ch < 64; ch++)
      assert.equal((dst[p * 2 + (ch >> 5)] >>> (ch & 31)) & 1, ch < c ? +(x[p * c + ch] === 1) : 0);
  x[77] = 0;
  assert.equal(packActivations(x, npix, c, dst), false);
});

test("padBefore is TF's 'same' padding; paddedTaps lists exactly the taps outside the image", () => {
  assert.equal(padBefore(32, 3, 1), 1);
  assert.equal(padBefore(7, 3, 2), 1);
  assert.equal(padBefore(8, 3, 2), 0);
  assert.equal(padBefore(8, 4, 1), 1); // total 3: 1 before, 2 after
  assert.equal(padBefore(5, 1, 1), 0);
  assert.deepEqual(convGeom(7, 8, 3, 3, 3, 2, 2, 'same'), {
    inH: 7,
    inW: 8,
    inC: 3,
    kh: 3,
    kw: 3,
    strideH: 2,
    strideW: 2,
    padTop: 1,
    padLeft: 0,
    convH: 4,
    convW: 4,
  });
  assert.deepEqual(convGeom(7, 8, 3, 3, 2, 2, 1, 'valid'), {
    inH: 7,
    inW: 8,
    inC: 3,
    kh: 3,
    kw: 2,
    strideH: 2,
    strideW: 1,
    padTop: 0,
    padLeft: 0,
    convH: 3,
    convW: 7,
  });
  const g: ConvGeom = {
    inH: 4,
    inW: 5,
    inC: 1,
    kh: 3,
    kw: 3,
    strideH: 1,
    strideW: 2,
    padTop: 1,
    padLeft: 1,
    convH: 4,
    convW: 3,
  };
  assert.deepEqual(paddedTaps(g, 0, 0), [0, 1, 2, 3, 6]);
  assert.deepEqual(paddedTaps(g, 1, 1), []);
  assert.deepEqual(paddedTaps(g, 3, 2), [2, 5, 6, 7, 8]);
});

/** y[n][oy][ox][o] = Σ over taps inside the image of x·w (zero padding contributes 0), in integers. */
function naiveConv(x: Float32Array, w: Float32Array, g: ConvGeom, n: number, cout: number): Float32Array {
  const y = new Float32Array(n * g.convH * g.convW * cout);
  for (let i = 0; i < n; i++)
    for (let oy = 0; oy < g.convH; oy++)
      for (let ox = 0; ox < g.convW; ox++)
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let ky = 0; ky < g.kh; ky++)
            for (let kx = 0; kx < g.kw; kx++) {
              const iy = oy * g.strideH + ky - g.padTop,
                ix = ox * g.strideW + kx - g.padLeft;
              if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) continue;
              for (let c = 0; c < g.inC; c++)
                s += x[((i * g.inH + iy) * g.inW + ix) * g.inC + c] * w[((ky * g.kw + kx) * g.inC + c) * cout + o];
            }
          y[((i * g.convH + oy) * g.convW + ox) * cout + o] = s;
        }
  return y;
}

/** 'same' or 'valid' geometry of an h×w×c input, k×k kernel, stride s. */
const geom = (h: number, w: number, c: number, k: number, s: number, same: boolean): ConvGeom =>
  convGeom(h, w, c, k, k, s, s, same ? 'same' : 'valid');

test('XNOR convolution (packing, im2col, GEMM, padding correction) equals the ±1 convolution exactly, on every kernel', () => {
  const rng = new Rng(5);
  const kernels = availableKernels();
  assert.ok(kernels.includes('js'));
  const cases: [number, number, number, number, number, boolean, number, number][] = [
    // h, w, cin, k, stride, same, cout, images
    [6, 5, 3, 3, 1, true, 5, 2],
    [7, 7, 33, 3, 2, true, 8, 1],
    [5, 6, 64, 3, 1, false, 4, 3],
    [8, 8, 16, 4, 1, true, 7, 1],
    [4, 4, 70, 1, 1, true, 9, 2],
    [3, 3, 5, 3, 1, true, 1, 1],
  ];
  for (const [h, w, cin, k, s, same, cout, n] of cases) {
    const g = geom(h, w, cin, k, s, same);
    const shape = { kh: k, kw: k, cin, cout };
    const x = pm1(rng, n * h * w * cin);
    const wt = pm1(rng, k * k * cin * cout);
    const want = naiveConv(x, wt, g, n, cout);
    const cw = words(cin);
    const kp = Math.ceil((k * k * cw) / 4) * 4;
    const noutp = Math.ceil(cout / 4) * 4;
    const npix = n * g.convH * g.convW;
    const rows = npix + (npix & 1);
    const xb = new Uint32Array(n * h * w * cw);
    assert.ok(packActivations(x, n * h * w, cin, xb));
    for (const name of kernels as KernelName[]) {
      const K = createKernel(name);
      const [pOff, wOff, oOff] = [rows * kp, noutp * kp, rows * noutp].map((sz) => K.alloc(sz * 4));
      const mem = new Uint32Array(K.buffer());
      packKernel(wt, shape, { mode: 'exact', rowWords: kp, rows: noutp, out: mem, outWord: wOff >> 2 });
      im2colBits(xb, g, n, mem, pOff >> 2, kp);
      K.bgemm(pOff, npix, kp, wOff, noutp, oOff);
      const table = paddingTable(g, tapPopcounts(mem, shape, kp, wOff >> 2), cout);
      const y = new Float32Array(npix * cout);
      xnorOutputs(new Int32Array(K.buffer(), oOff, rows * noutp), noutp, table, n, cout, y);
      assert.deepEqual(
        Array.from(y),
        Array.from(want),
        `${name}: ${JSON.stringify({ h, w, cin, k, s, same, cout, n })}`,
      );
    }
  }
});

test('the GEMM kernels agree: bgemm with odd pixel counts and long rows, sgemm bit for bit with ±1 weights', () => {
  const rng = new Rng(6);
  const kernels = availableKernels();
  if (typeof (globalThis as { WebAssembly?: object }).WebAssembly === 'object')
    assert.ok(kernels.includes('simd') && kernels.includes('i64'), 'the wasm kernels load');
  for (const [npix, kp, nout] of [
    [7, 12, 8],
    [1, 4, 4],
    [10, 1024, 12],
  ]) {
    const kq = 27,
      noutF = 32;
    const pw = Uint32Array.from({ length: npix * kp }, () => Math.floor(rng.next() * 2 ** 32));
    const ww = Uint32Array.from({ length: nout * kp }, () => Math.floor(rng.next() * 2 ** 32));
    const pf = Float32Array.from({ length: npix * kq }, () => rng.next() - 0.5);
    const wf = pm1(rng, kq * noutF);
    const wantF: number[] = [];
    for (let p = 0; p < npix; p++)
      for (let o = 0; o < noutF; o++) {
        let s = 0;
        for (let q = 0; q < kq; q++) s = Math.fround(s + Math.fround(pf[p * kq + q] * wf[q * noutF + o]));
        wantF.push(s);
      }
    for (const name of kernels) {
      const K = createKernel(name);
      const [a, b, c, d, e, f] = [
        (npix + 1) * kp,
        nout * kp,
        (npix + 1) * nout,
        npix * kq,
        kq * noutF,
        npix * noutF,
      ].map((sz) => K.alloc(sz * 4));
      new Uint32Array(K.buffer(), a, npix * kp).set(pw);
      new Uint32Array(K.buffer(), b, nout * kp).set(ww);
      new Float32Array(K.buffer(), d, npix * kq).set(pf);
      new Float32Array(K.buffer(), e, kq * noutF).set(wf);
      K.bgemm(a, npix, kp, b, nout, c);
      K.sgemm(d, npix, kq, e, noutF, f);
      const got = new Int32Array(K.buffer(), c, npix * nout);
      for (let p = 0; p < npix; p++)
        for (let o = 0; o < nout; o++) {
          let s = 0;
          for (let q = 0; q < kp; q++) s += popcount32(pw[p * kp + q] ^ ww[o * kp + q]);
          assert.equal(got[p * nout + o], s, `${name} bgemm [${p}][${o}] (npix ${npix}, kp ${kp})`);
        }
      assert.deepEqual(
        Array.from(new Float32Array(K.buffer(), f, npix * noutF)),
        wantF,
        `${name} sgemm: float32 sums in q order`,
      );
    }
  }
  assert.throws(() => createKernel('nope' as KernelName), /not available here/);
});

test('kernels/xnor.ts builds to modules that import only env.memory, export only the three GEMMs and carry no data', () => {
  const WA = (
    globalThis as unknown as {
      WebAssembly: {
        Module: {
          new (b: Uint8Array): object;
          exports(m: object): { name: string; kind: string }[];
          imports(m: object): { module: string; name: string }[];
        };
      };
    }
  ).WebAssembly;
  const { plain, shared } = ensureKernelBuild('xnor');
  for (const file of [plain, shared]) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    assert.ok(!wasmSectionIds(bytes).includes(11), `${file}: no data section`);
    const m = new WA.Module(bytes);
    assert.deepEqual(
      WA.Module.exports(m)
        .map((e) => `${e.kind} ${e.name}`)
        .sort(),
      ['function bgemmI64', 'function bgemmSimd', 'function sgemm'],
    );
    assert.deepEqual(
      WA.Module.imports(m).map((i) => `${i.module}.${i.name}`),
      ['env.memory'],
    );
  }
});
