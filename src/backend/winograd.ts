/**
 * Winograd F(2×2,3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks") for the input
 * gradient (dx) of 3×3 stride-1 convolutions on the wasm backend: transforms of the input tiles, of the filter and
 * of the output, as kernels on the wasm heap (SIMD where the channel count is a multiple of 4); fused.ts'
 * `winogradConv3x3Fused` runs the 16 GEMMs between them with XNNPACK.
 *
 *   BnnWinogradIn      V_k[t, c] = (Bᵀ d_t B)_k for the 4×4 input tiles d_t
 *   BnnWinogradFilter  U_k[ci, co] = (G g G^T)_k for each 3×3 filter g
 *   BnnWinogradOut     y = Aᵀ M_t A for the 16 products M_k = V_k·U_k
 */
import type * as tf from '@tensorflow/tfjs';
import { heapF32, heapPtr, simd } from './heap';
import type { HeapBackend } from './heap';

type Info = tf.TensorInfo;

/** The Winograd transform kernels, for the wasm backend. */
export const WINOGRAD_KERNELS: tf.KernelConfig[] = [
  // Winograd F(2×2, 3×3) (Lavin & Gray 2016), input transform: V_k[t, c] = (Bᵀ d_t B)_k for the 4×4 tiles d_t
  // of x (zero outside), tile t = (n, ty, tx) at rows 2ty − padTop.., cols 2tx − padLeft..; 16 outputs [T, C]
  {
    kernelName: 'BnnWinogradIn',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const xi = (inputs as Record<string, Info>).x;
      const a = attrs as unknown as { padTop: number; padLeft: number; tH: number; tW: number };
      const [N, H, W, C] = xi.shape;
      const T = N * a.tH * a.tW;
      const outs = Array.from({ length: 16 }, () => b.makeOutput([T, C], 'float32'));
      const k = C % 4 === 0 ? simd(b) : null;
      if (k) {
        // pointer table: 16 source rows per tile (out-of-range → a zero row), then the SIMD transform
        const tabP = b.wasm._malloc(T * 64 + 64 + C * 4 + 32) >>> 0;
        const obP = tabP + T * 64,
          zeroP = (obP + 64 + 15) & ~15;
        const xp = heapPtr(b, xi);
        const hp = new Int32Array(b.wasm.HEAPU8.buffer);
        new Float32Array(b.wasm.HEAPU8.buffer, zeroP, C).fill(0);
        for (let q = 0; q < 16; q++) hp[(obP >>> 2) + q] = heapPtr(b, outs[q]);
        let e = tabP >>> 2;
        for (let n = 0; n < N; n++)
          for (let ty = 0; ty < a.tH; ty++)
            for (let tx = 0; tx < a.tW; tx++) {
              for (let i = 0; i < 4; i++) {
                const r = 2 * ty - a.padTop + i;
                for (let j = 0; j < 4; j++) {
                  const q = 2 * tx - a.padLeft + j;
                  hp[e++] = r >= 0 && r < H && q >= 0 && q < W ? xp + ((n * H + r) * W + q) * C * 4 : zeroP;
                }
              }
            }
        k.winoIn(tabP, T, C >>> 2, obP);
        b.wasm._free(tabP);
        return outs;
      }
      const xv = heapF32(b, xi);
      const V = outs.map((o) => heapF32(b, o));
      const off = new Int32Array(16);
      const d = new Float32Array(16);
      let t = 0;
      for (let n = 0; n < N; n++) {
        for (let ty = 0; ty < a.tH; ty++) {
          for (let tx = 0; tx < a.tW; tx++, t++) {
            for (let i = 0; i < 4; i++) {
              const r = 2 * ty - a.padTop + i;
              for (let j = 0; j < 4; j++) {
                const q = 2 * tx - a.padLeft + j;
                off[i * 4 + j] = r >= 0 && r < H && q >= 0 && q < W ? ((n * H + r) * W + q) * C : -1;
              }
            }
            const tb = t * C;
            for (let c = 0; c < C; c++) {
              for (let k = 0; k < 16; k++) d[k] = off[k] >= 0 ? xv[off[k] + c] : 0;
              for (let j = 0; j < 4; j++) {
                // columns: t = Bᵀ d
                const d0 = d[j],
                  d1 = d[4 + j],
                  d2 = d[8 + j],
                  d3 = d[12 + j];
                d[j] = d0 - d2;
                d[4 + j] = d1 + d2;
                d[8 + j] = d2 - d1;
                d[12 + j] = d1 - d3;
              }
              for (let i = 0; i < 16; i += 4) {
                // rows: V = t B
                const t0 = d[i],
                  t1 = d[i + 1],
                  t2 = d[i + 2],
                  t3 = d[i + 3];
                V[i][tb + c] = t0 - t2;
                V[i + 1][tb + c] = t1 + t2;
                V[i + 2][tb + c] = t2 - t1;
                V[i + 3][tb + c] = t1 - t3;
              }
            }
          }
        }
      }
      return outs;
    },
  },
  // filter transform: U_k[ci, co] = (G g G^T)_k for g = w[:, :, ci, co] (3×3); 16 outputs [Ci, Co]
  {
    kernelName: 'BnnWinogradFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const wi = (inputs as Record<string, Info>).w;
      const [, , Ci, Co] = wi.shape;
      const outs = Array.from({ length: 16 }, () => b.makeOutput([Ci, Co], 'float32'));
      const wv = heapF32(b, wi);
      const U = outs.map((o) => heapF32(b, o));
      const n = Ci * Co;
      const g = new Float64Array(9),
        h = new Float64Array(12);
      for (let e = 0; e < n; e++) {
        for (let k = 0; k < 9; k++) g[k] = wv[k * n + e];
        for (let j = 0; j < 3; j++) {
          // rows of G g (4×3)
          const g0 = g[j],
            g1 = g[3 + j],
            g2 = g[6 + j];
          h[j] = g0;
          h[3 + j] = (g0 + g1 + g2) / 2;
          h[6 + j] = (g0 - g1 + g2) / 2;
          h[9 + j] = g2;
        }
        for (let i = 0; i < 4; i++) {
          // (G g) Gᵀ (4×4)
          const h0 = h[i * 3],
            h1 = h[i * 3 + 1],
            h2 = h[i * 3 + 2];
          U[i * 4][e] = h0;
          U[i * 4 + 1][e] = (h0 + h1 + h2) / 2;
          U[i * 4 + 2][e] = (h0 - h1 + h2) / 2;
          U[i * 4 + 3][e] = h2;
        }
      }
      return outs;
    },
  },
  // output transform: y[n, 2ty + a, 2tx + b, co] = (Aᵀ M_t A)_{ab}, M_t[k] = m_k[t, co]; rows/cols ≥ Ho/Wo dropped
  {
    kernelName: 'BnnWinogradOut',
    backendName: 'wasm',
    // kernel loop: the SIMD path's tile table, else the scalar output transform
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const a = attrs as unknown as { N: number; Ho: number; Wo: number; tH: number; tW: number };
      const ms = Array.from({ length: 16 }, (_, k) => (inputs as Record<string, Info>)[`m${k}`]);
      const Co = ms[0].shape[1];
      const out = b.makeOutput([a.N, a.Ho, a.Wo, Co], 'float32');
      const k = Co % 4 === 0 ? simd(b) : null;
      if (k) {
        const T = a.N * a.tH * a.tW;
        const tabP = b.wasm._malloc(T * 16 + 64 + Co * 4 + 32) >>> 0;
        const mbP = tabP + T * 16,
          dumP = (mbP + 64 + 15) & ~15;
        const yp = heapPtr(b, out);
        const hp = new Int32Array(b.wasm.HEAPU8.buffer);
        for (let q = 0; q < 16; q++) hp[(mbP >>> 2) + q] = heapPtr(b, ms[q]);
        let e = tabP >>> 2;
        for (let n = 0; n < a.N; n++)
          for (let ty = 0; ty < a.tH; ty++)
            for (let tx = 0; tx < a.tW; tx++) {
              for (let i = 0; i < 2; i++) {
                for (let j = 0; j < 2; j++) {
                  const r = 2 * ty + i,
                    q = 2 * tx + j;
                  hp[e++] = r < a.Ho && q < a.Wo ? yp + ((n * a.Ho + r) * a.Wo + q) * Co * 4 : dumP;
                }
              }
            }
        k.winoOut(mbP, T, Co >>> 2, tabP);
        b.wasm._free(tabP);
        return out;
      }
      const M = ms.map((m) => heapF32(b, m));
      const y = heapF32(b, out);
      let t = 0;
      for (let n = 0; n < a.N; n++) {
        for (let ty = 0; ty < a.tH; ty++) {
          for (let tx = 0; tx < a.tW; tx++, t++) {
            const r0 = 2 * ty,
              c0 = 2 * tx;
            const r1ok = r0 + 1 < a.Ho,
              c1ok = c0 + 1 < a.Wo;
            const y00 = ((n * a.Ho + r0) * a.Wo + c0) * Co;
            const y10 = y00 + a.Wo * Co;
            const tb = t * Co;
            for (let c = 0; c < Co; c++) {
              const i = tb + c;
              const m0 = M[0][i],
                m1 = M[1][i],
                m2 = M[2][i],
                m3 = M[3][i];
              const m4 = M[4][i],
                m5 = M[5][i],
                m6 = M[6][i],
                m7 = M[7][i];
              const m8 = M[8][i],
                m9 = M[9][i],
                m10 = M[10][i],
                m11 = M[11][i];
              const m12 = M[12][i],
                m13 = M[13][i],
                m14 = M[14][i],
                m15 = M[15][i];
              // s = Aᵀ M (2×4): s0 = rows 0+1+2, s1 = rows 1−2−3
              const s00 = m0 + m4 + m8,
                s01 = m1 + m5 + m9,
                s02 = m2 + m6 + m10,
                s03 = m3 + m7 + m11;
              const s10 = m4 - m8 - m12,
                s11 = m5 - m9 - m13,
                s12 = m6 - m10 - m14,
                s13 = m7 - m11 - m15;
              y[y00 + c] = s00 + s01 + s02;
              if (c1ok) y[y00 + Co + c] = s01 - s02 - s03;
              if (r1ok) {
                y[y10 + c] = s10 + s11 + s12;
                if (c1ok) y[y10 + Co + c] = s11 - s12 - s13;
              }
            }
          }
        }
      }
      return out;
    },
  },
];
