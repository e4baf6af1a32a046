/**
 * The generic XNOR-popcount GEMM and the float GEMM of src/xnor/gemm.ts, in AssemblyScript; built by
 * kernels/build.mjs, loaded by src/wasm/load.ts on the memory of a BinaryKernel (src/xnor/gemm.ts), which lays out
 * patches, weights and outputs in it. Every pointer is a byte offset into that memory.
 *
 * Binary GEMM (bit layout: src/xnor/bits.ts; bit 1 = +1, bit 0 = −1):
 *
 *   out[p·nout + o] = Σ_k popcount(patch[p][k] XOR weight[o][k])      (k over the kb bytes of a row)
 *
 * the number of sign disagreements between patch row p and kernel row o, from which the ±1 dot product of n pairs
 * is n − 2·popcount (Courbariaux et al. 2016; Rastegari et al. 2016). Blocked 2 pixels × 4 kernel rows per pass
 * (each loaded vector used 4 or 2 times), so both GEMMs read and write pixel pairs: with an odd npix they read one
 * more patch row (the caller zeroes it) and write one more output row. Requirements: kb a multiple of the step (16
 * bytes for SIMD, 8 for i64), nout a multiple of 4, rows 16-byte aligned.
 *
 *   bgemmSimd: v128.xor + i8x16.popcnt, the byte counts summed pairwise into i16x8 lanes per step (each lane gains
 *              at most 16 per 16-byte step, so rows up to 65535 bytes cannot overflow the unsigned 16-bit lanes),
 *              then widened to i32x4 and added across lanes once per output;
 *   bgemmI64:  i64.xor + i64.popcnt, 8 bytes per step.
 * Both are the one generic `bgemm<T>` (T = v128 or u64), whose type checks are resolved at compile time.
 *
 * Float GEMM of the real-input first layer (weights ±1):
 *
 *   sgemm: out[p][o] = Σ_q patch[p][q]·w[q][o] in float32, q in order from 0, f32x4 over 16 outputs per pass
 *          (nout a multiple of 16; patch rows of kq floats, w [kq][nout], out [npix][nout]).
 *
 * Loops are `do { … } while (i < end)` after an early return on empty input (kernels/README.md). No allocation, no
 * static data, no globals: the module has no data segment.
 */

/** Σ of the 8 unsigned 16-bit lanes of `a` (pairwise widened to i32x4, then the 4 lanes added). */
// @ts-ignore: decorator
@inline function sum16(a: v128): u32 {
  const s = i32x4.extadd_pairwise_i16x8_u(a);
  return (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3)) as u32;
}

/**
 * acc + popcount(x XOR w) for T = v128 (the byte counts of i8x16.popcnt summed pairwise into i16x8 lanes) or
 * T = u64 (i64.popcnt); the branch not taken for T is not compiled.
 */
// @ts-ignore: decorator
@inline function step<T>(acc: T, x: T, w: T): T {
  if (isVector<T>()) return changetype<T>(i16x8.add(changetype<v128>(acc), i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(v128.xor(changetype<v128>(x), changetype<v128>(w))))));
  return (acc + popcnt(x ^ w)) as T;
}

/** The count in an accumulator: the lane sum (v128) or the value (u64). */
// @ts-ignore: decorator
@inline function total<T>(a: T): u32 {
  if (isVector<T>()) return sum16(changetype<v128>(a));
  return a as u32;
}

/** A zero accumulator. */
// @ts-ignore: decorator
@inline function zero<T>(): T {
  if (isVector<T>()) return changetype<T>(i16x8.splat(0));
  return 0 as T;
}

/**
 * The binary GEMM (module comment) on accumulators of type T, sizeof<T>() bytes per step: 2 pixels × 4 kernel rows
 * per pass. Addresses come from the row start, k and kb in the loop rather than 6 precomputed row pointers: fewer
 * live registers beside the 8 vector accumulators (measured ~13 % faster for v128 in V8).
 */
// @ts-ignore: decorator
@inline function bgemm<T>(pp: usize, npix: u32, kb: u32, wp: usize, nout: u32, op: usize): void {
  if (npix == 0 || nout == 0 || kb == 0) return;
  const kbs = kb as usize;
  const rowOut = (nout as usize) << 2;
  let p: u32 = 0;
  let prow = pp, orow = op;
  do {
    let o: u32 = 0;
    let w0 = wp;
    do {
      let a00 = zero<T>(), a01 = zero<T>(), a02 = zero<T>(), a03 = zero<T>();
      let a10 = zero<T>(), a11 = zero<T>(), a12 = zero<T>(), a13 = zero<T>();
      let k: usize = 0;
      do {
        const x0 = load<T>(prow + k), x1 = load<T>(prow + kbs + k);
        const wk = w0 + k;
        let w = load<T>(wk);
        a00 = step<T>(a00, x0, w);
        a10 = step<T>(a10, x1, w);
        w = load<T>(wk + kbs);
        a01 = step<T>(a01, x0, w);
        a11 = step<T>(a11, x1, w);
        w = load<T>(wk + kbs * 2);
        a02 = step<T>(a02, x0, w);
        a12 = step<T>(a12, x1, w);
        w = load<T>(wk + kbs * 3);
        a03 = step<T>(a03, x0, w);
        a13 = step<T>(a13, x1, w);
        k += sizeof<T>();
      } while (k < kbs);
      const out0 = orow + ((o as usize) << 2), out1 = out0 + rowOut;
      store<u32>(out0, total<T>(a00));
      store<u32>(out0, total<T>(a01), 4);
      store<u32>(out0, total<T>(a02), 8);
      store<u32>(out0, total<T>(a03), 12);
      store<u32>(out1, total<T>(a10));
      store<u32>(out1, total<T>(a11), 4);
      store<u32>(out1, total<T>(a12), 8);
      store<u32>(out1, total<T>(a13), 12);
      w0 += kbs << 2;
      o += 4;
    } while (o < nout);
    prow += kbs << 1;
    orow += rowOut << 1;
    p += 2;
  } while (p < npix);
}

/** Binary GEMM on v128 (module comment): patches at pp (rows of kb bytes), weights at wp, outputs at op. */
export function bgemmSimd(pp: usize, npix: u32, kb: u32, wp: usize, nout: u32, op: usize): void {
  bgemm<v128>(pp, npix, kb, wp, nout, op);
}

/** Binary GEMM on scalar i64 (module comment); same arguments as bgemmSimd, kb a multiple of 8. */
export function bgemmI64(pp: usize, npix: u32, kb: u32, wp: usize, nout: u32, op: usize): void {
  bgemm<u64>(pp, npix, kb, wp, nout, op);
}

/** Float GEMM (module comment): acc = acc + x·w per step, in q order, 4 accumulators of 4 outputs. */
export function sgemm(pp: usize, npix: u32, kq: u32, wp: usize, nout: u32, op: usize): void {
  if (npix == 0 || nout == 0 || kq == 0) return;
  const rowW = (nout as usize) << 2;
  const rowP = (kq as usize) << 2;
  let p: u32 = 0;
  let prow = pp, orow = op;
  do {
    let o: u32 = 0;
    do {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let wq = wp + ((o as usize) << 2);
      let q: usize = 0;
      do {
        const x = f32x4.splat(load<f32>(prow + q));
        a0 = f32x4.add(a0, f32x4.mul(x, v128.load(wq)));
        a1 = f32x4.add(a1, f32x4.mul(x, v128.load(wq, 16)));
        a2 = f32x4.add(a2, f32x4.mul(x, v128.load(wq, 32)));
        a3 = f32x4.add(a3, f32x4.mul(x, v128.load(wq, 48)));
        wq += rowW;
        q += 4;
      } while (q < rowP);
      const out = orow + ((o as usize) << 2);
      v128.store(out, a0);
      v128.store(out, a1, 16);
      v128.store(out, a2, 32);
      v128.store(out, a3, 48);
      o += 16;
    } while (o < nout);
    prow += rowP;
    orow += rowW;
    p++;
  } while (p < npix);
}
