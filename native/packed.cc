// The native packed-inference engine: runs the memory of a packed model laid out by src/inference/engine.ts
// (buildFused with code generation off: zero-bordered bit images, patch tables, padding-correction rows, integer
// thresholds, routes into each consumer's image; threads.ts' StageLayout describes one stage) with XNOR-popcount
// kernels compiled for three instruction sets and picked at run time from CPUID:
//
//   avx512   AVX-512F/BW + VPOPCNTDQ: 16 output channels per zmm register, one 32-bit word of the patch broadcast
//            to all lanes, xor, vpopcntd, add (512 binary multiply-accumulates per 3 instructions); P pixels × R
//            blocks of 16 channels per tile, accumulators in registers, no horizontal sums.
//   avx2     AVX2: the same on 8 lanes, popcount by the nibble lookup (vpshufb), 8-bit sums widened every 31 steps.
//   scalar   one channel at a time, the popcnt instruction where the CPU has it.
//
// One binary GEMM output is popcount(patch XOR kernel row) over the patch's words; its epilogue makes the layer's
// pre-activation y = A[padding pattern][o] − 2·popcount (exact zero padding, src/xnor/conv.ts) and folds BN + sign
// into one integer compare per channel: bit = sgn·y ≥ T ⇔ (y ≥ U) XOR neg with U = neg ? 1 − T : T. The 16 compare
// bits of a block are the packed output word (__mmask16 on AVX-512). Pooling works on those bits: max-pool before
// BN (BinaryNet) is the OR of the compare bits, then XOR neg (max y ≥ U ⇔ some y ≥ U); max-pool after BN + sign
// (the UNet) is the OR of the sign bits. A stage without a pool writes its bits straight into every consumer's
// padded image. The real first layer: float32 sums in the order of the reference (src/xnor's sgemm: patch order,
// from 0; each ±1 product is exact, so a fused multiply-add gives the same sum), then bit = sgn·y ≥ sgn·t in
// float32. The last stage writes its integer y; JS applies the float BN. Every path gives the same integers.
//
// Threads: one image on T threads splits every stage's tiles (chunks claimed from a counter; no barrier between
// stages: see runSplit); a batch on T threads gives whole images to each thread, each with its own copy of the activations.
//
//   packedCpu()                              { isas: usable ones, widest first; features; brand }
//   packedCreate(memory, stages, windows, io, isa, threads)   a handle (memory: the initial bytes, Uint8Array;
//                                            stages: Int32Array of NS fields per stage, see `Field`; windows: the
//                                            pool windows' offsets; io: input and final buffer geometry)
//   packedRun(handle, images, n, out)        images Float32Array [n][H·W·C] → out Int32Array [n][npix·outC]
//   packedFree(handle)                       frees the engine now (otherwise the garbage collector does)
//   popcountPeak(isa, threads, steps, sec)   { macs, seconds }: a register-only loop of the isa's XNOR-popcount
//                                            step (xor, popcount, add) on every thread, for `sec` seconds in chunks
//                                            of `steps` (or, sec = 0, `steps` in all): the machine's ceiling
#include "addon.h"
#include <omp.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// GCC's AVX-512 headers trip its own uninitialized-value warnings (_mm512_undefined_*): not this file's values
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#if defined(__x86_64__) || defined(__i386__)
#define BNN_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define BNN_X86 0
#endif

namespace {

enum Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
const char* const kIsaNames[] = {"scalar", "avx2", "avx512"};

bool cpuHas(Isa isa) {
#if BNN_X86
  __builtin_cpu_init();
  if (isa == kAvx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vpopcntdq");
  if (isa == kAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
  if (isa != kScalar) return false;
#endif
  return true;
}

// 64-byte aligned buffer.
template <class T>
struct Aligned {
  T* p = nullptr;
  size_t n = 0;
  Aligned() = default;
  explicit Aligned(size_t count) { reset(count); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  Aligned(Aligned&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr, o.n = 0; }
  Aligned& operator=(Aligned&& o) noexcept {
    std::swap(p, o.p), std::swap(n, o.n);
    return *this;
  }
  ~Aligned() { std::free(p); }
  void reset(size_t count) {
    std::free(p);
    n = count;
    const size_t bytes = ((count * sizeof(T) + 63) / 64) * 64;
    p = static_cast<T*>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes ? bytes : 64);
  }
  T* data() const { return p; }
  T& operator[](size_t i) const { return p[i]; }
};

// Fields of one stage in the `stages` Int32Array (src/inference/native.ts writes them in this order).
enum Field {
  fReal, fFinal, fAfterSign, fNpix, fNpixP, fNoutp, fOutC, fTab, fSegs, fSegStride, fSegBytes, fWOff, fKB, fOutOff,
  fNq, fSrcTab, fDstTab, fK, fPatTab, fSgnOff, fTOff, fWinOff, fWinLen, NS
};

struct Stage {
  bool real = false, final = false, afterSign = false;
  // direct: no pool, so the GEMM epilogue writes each conv pixel's outputs straight to its destinations
  bool direct = false;
  int npix = 0, noutp = 0, nob = 0, outC = 0;
  int tab = 0, segs = 0, segStride = 0, segWords = 0, Kw = 0, wOff = 0, outOff = 0;
  int nq = 0, srcTab = 0, dstTab = 0, K = 0, patTab = 0;
  std::vector<int> window;
  Aligned<uint32_t> w;      // binary: kernel words [nob][Kw][16] (16 output channels side by side)
  Aligned<int32_t> U;       // binary: bit = (y ≥ U[o]) XOR neg[o]
  Aligned<uint32_t> flip;   // real: sign bit of sgn[o]
  Aligned<float> st;        // real: sgn·t
  std::vector<uint16_t> epiXor, routeXor;  // per block of 16 channels: neg bits applied in the epilogue or after pooling
};

struct Engine;
// One step of a split image: a stage's GEMM tiles, or (route) its pooling in chunks of kRouteChunk output pixels.
struct Phase {
  int stage;
  bool route;
  int tiles;
  int chunk;   // tiles per claim
  int chunks;  // claims (and done marks) of the phase
  int doneOff;
};
const int kRouteChunk = 16;
using TileFn = void (*)(const Engine&, const Stage&, uint8_t*, int p0, int np, int b0, int nb);

struct Engine {
  Isa isa = kScalar;
  int threads = 1;
  size_t memBytes = 0;
  std::vector<Stage> stages;
  int inOff = 0, H = 0, W = 0, C = 0, Wp = 0, padTop = 0, padLeft = 0;
  int finOff = 0, finNpix = 0, finNoutp = 0, finOutC = 0;
  std::vector<std::unique_ptr<Aligned<uint8_t>>> ctx;  // one memory per thread (batch mode)
  int PB = 1, RB = 1;                                 // tile: PB pixels × RB blocks of 16 channels
  TileFn bin = nullptr, real = nullptr;
  // runSplit's schedule: phases, a claim counter per phase, a done mark per tile (the image's epoch)
  std::vector<Phase> phases;
  std::unique_ptr<std::atomic<int>[]> claims;
  std::unique_ptr<std::atomic<uint32_t>[]> done;
  mutable uint32_t epoch = 0;
};

inline void put16(uint8_t* mem, int32_t off, uint16_t v) { std::memcpy(mem + off, &v, 2); }
inline const int32_t* i32(const uint8_t* mem, int32_t off) { return reinterpret_cast<const int32_t*>(mem + off); }

// ------------------------------------------------------------------------------------------------ scalar kernels

inline __attribute__((always_inline)) uint32_t popcnt32(uint32_t v) { return static_cast<uint32_t>(__builtin_popcount(v)); }

// Epilogue of one conv pixel p, block b, from its 16 raw sums (popcounts, or float sums for the real layer).
inline void epilogueBinary(const Stage& S, uint8_t* mem, int p, int b, const int32_t* pc) {
  const int32_t* A = i32(mem, i32(mem, S.patTab)[p]) + b * 16;
  int32_t y[16];
  for (int l = 0; l < 16; l++) y[l] = A[l] - 2 * pc[l];
  if (S.final) {
    int32_t* out = reinterpret_cast<int32_t*>(mem + (S.direct ? i32(mem, S.dstTab)[p] : S.outOff + p * S.noutp * 4)) + b * 16;
    std::memcpy(out, y, sizeof y);
    return;
  }
  uint16_t m = 0;
  for (int l = 0; l < 16; l++) m |= static_cast<uint16_t>(y[l] >= S.U[b * 16 + l]) << l;
  m ^= S.epiXor[b];
  if (S.direct)
    for (int k = 0; k < S.K; k++) put16(mem, i32(mem, S.dstTab)[p * S.K + k] + 2 * b, m);
  else
    put16(mem, S.outOff + (p * S.nob + b) * 2, m);
}

inline void epilogueReal(const Stage& S, uint8_t* mem, int p, int b, const float* y) {
  uint16_t m = 0;
  for (int l = 0; l < 16; l++) {
    float v = y[l];
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u ^= S.flip[b * 16 + l];
    std::memcpy(&v, &u, 4);
    m |= static_cast<uint16_t>(v >= S.st[b * 16 + l]) << l;
  }
  if (S.direct)
    for (int k = 0; k < S.K; k++) put16(mem, i32(mem, S.dstTab)[p * S.K + k] + 2 * b, m);
  else
    put16(mem, S.outOff + (p * S.nob + b) * 2, m);
}

inline __attribute__((always_inline)) void binaryTileScalar(const Engine&, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  const int ss = S.segStride / 4;
  for (int p = p0; p < p0 + np; p++) {
    const uint32_t* x = reinterpret_cast<const uint32_t*>(mem + i32(mem, S.tab)[p]);
    for (int b = b0; b < b0 + nb; b++) {
      int32_t acc[16] = {0};
      const uint32_t* w = S.w.data() + static_cast<size_t>(b) * S.Kw * 16;
      for (int s = 0, k = 0; s < S.segs; s++)
        for (int i = 0; i < S.segWords; i++, k++) {
          const uint32_t xv = x[s * ss + i];
          for (int l = 0; l < 16; l++) acc[l] += static_cast<int32_t>(popcnt32(xv ^ w[k * 16 + l]));
        }
      epilogueBinary(S, mem, p, b, acc);
    }
  }
}

void realTileScalar(const Engine&, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  const int ss = S.segStride / 4;
  const float* W = reinterpret_cast<const float*>(mem + S.wOff);
  for (int p = p0; p < p0 + np; p++) {
    const float* x = reinterpret_cast<const float*>(mem + i32(mem, S.tab)[p]);
    for (int b = b0; b < b0 + nb; b++) {
      float acc[16] = {0};
      for (int s = 0, q = 0; s < S.segs; s++)
        for (int i = 0; i < S.segWords; i++, q++) {
          const float xv = x[s * ss + i];
          const float* w = W + static_cast<size_t>(q) * S.noutp + b * 16;
          for (int l = 0; l < 16; l++) acc[l] += xv * w[l];
        }
      epilogueReal(S, mem, p, b, acc);
    }
  }
}

#if BNN_X86
// the scalar path with the popcnt instruction (x86-64 baseline lacks it)
__attribute__((target("popcnt"))) void binaryTilePopcnt(const Engine& E, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  binaryTileScalar(E, S, mem, p0, np, b0, nb);
}
#endif
void binaryTileGeneric(const Engine& E, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  binaryTileScalar(E, S, mem, p0, np, b0, nb);
}

// ------------------------------------------------------------------------------------------------ AVX-512

#if BNN_X86
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt")

template <int P, int R>
void bin512(const Stage& S, uint8_t* mem, int p0, int b0) {
  const int32_t* tab = i32(mem, S.tab);
  const uint32_t* x[P];
#pragma GCC unroll 8
  for (int j = 0; j < P; j++) x[j] = reinterpret_cast<const uint32_t*>(mem + tab[p0 + j]);
  __m512i acc[P][R];
#pragma GCC unroll 8
  for (int j = 0; j < P; j++)
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) acc[j][r] = _mm512_setzero_si512();
  const size_t bs = static_cast<size_t>(S.Kw) * 16;
  const uint32_t* W = S.w.data() + b0 * bs;
  const int ss = S.segStride / 4, sw = S.segWords;
  for (int s = 0; s < S.segs; s++) {
    const uint32_t* wk = W + static_cast<size_t>(s) * sw * 16;
    const int xo = s * ss;
    for (int i = 0; i < sw; i++, wk += 16) {
      __m512i w[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) w[r] = _mm512_load_si512(wk + r * bs);
#pragma GCC unroll 8
      for (int j = 0; j < P; j++) {
        const __m512i b = _mm512_set1_epi32(static_cast<int>(x[j][xo + i]));
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[j][r] = _mm512_add_epi32(acc[j][r], _mm512_popcnt_epi32(_mm512_xor_si512(b, w[r])));
      }
    }
  }
  const int32_t* pat = i32(mem, S.patTab);
  const int32_t* dst = i32(mem, S.dstTab);
#pragma GCC unroll 8
  for (int j = 0; j < P; j++) {
    const int p = p0 + j;
    const int32_t* A = i32(mem, pat[p]);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const int b = b0 + r;
      const __m512i y = _mm512_sub_epi32(_mm512_loadu_si512(A + b * 16), _mm512_slli_epi32(acc[j][r], 1));
      if (S.final) {
        int32_t* out = reinterpret_cast<int32_t*>(mem + (S.direct ? dst[p] : S.outOff + p * S.noutp * 4)) + b * 16;
        _mm512_storeu_si512(out, y);
        continue;
      }
      const uint16_t m = static_cast<uint16_t>(_mm512_cmpge_epi32_mask(y, _mm512_load_si512(S.U.data() + b * 16))) ^ S.epiXor[b];
      if (S.direct)
        for (int k = 0; k < S.K; k++) put16(mem, dst[p * S.K + k] + 2 * b, m);
      else
        put16(mem, S.outOff + (p * S.nob + b) * 2, m);
    }
  }
}

template <int P, int R>
void real512(const Stage& S, uint8_t* mem, int p0, int b0) {
  const int32_t* tab = i32(mem, S.tab);
  const float* x[P];
#pragma GCC unroll 8
  for (int j = 0; j < P; j++) x[j] = reinterpret_cast<const float*>(mem + tab[p0 + j]);
  __m512 acc[P][R];
#pragma GCC unroll 8
  for (int j = 0; j < P; j++)
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) acc[j][r] = _mm512_setzero_ps();
  const float* W = reinterpret_cast<const float*>(mem + S.wOff) + b0 * 16;
  const int ss = S.segStride / 4, sw = S.segWords;
  for (int s = 0, q = 0; s < S.segs; s++)
    for (int i = 0; i < sw; i++, q++) {
      __m512 w[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) w[r] = _mm512_loadu_ps(W + static_cast<size_t>(q) * S.noutp + r * 16);
#pragma GCC unroll 8
      for (int j = 0; j < P; j++) {
        const __m512 b = _mm512_set1_ps(x[j][s * ss + i]);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[j][r] = _mm512_add_ps(acc[j][r], _mm512_mul_ps(b, w[r]));
      }
    }
  const int32_t* dst = i32(mem, S.dstTab);
#pragma GCC unroll 8
  for (int j = 0; j < P; j++)
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const int p = p0 + j, b = b0 + r;
      const __m512 y = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(acc[j][r]), _mm512_load_si512(S.flip.data() + b * 16)));
      const uint16_t m = static_cast<uint16_t>(_mm512_cmp_ps_mask(y, _mm512_load_ps(S.st.data() + b * 16), _CMP_GE_OQ));
      if (S.direct)
        for (int k = 0; k < S.K; k++) put16(mem, dst[p * S.K + k] + 2 * b, m);
      else
        put16(mem, S.outOff + (p * S.nob + b) * 2, m);
    }
}

// A tile of np ≤ 4 pixels × nb ≤ 4 blocks through the instantiation for its size.
template <template <int, int> class K>
struct Dispatch4 {
  static void run(const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
    using F = void (*)(const Stage&, uint8_t*, int, int);
    static const F t[4][4] = {
        {K<1, 1>::f, K<1, 2>::f, K<1, 3>::f, K<1, 4>::f},
        {K<2, 1>::f, K<2, 2>::f, K<2, 3>::f, K<2, 4>::f},
        {K<3, 1>::f, K<3, 2>::f, K<3, 3>::f, K<3, 4>::f},
        {K<4, 1>::f, K<4, 2>::f, K<4, 3>::f, K<4, 4>::f},
    };
    t[np - 1][nb - 1](S, mem, p0, b0);
  }
};
template <int P, int R> struct Bin512 { static void f(const Stage& S, uint8_t* m, int p, int b) { bin512<P, R>(S, m, p, b); } };
template <int P, int R> struct Real512 { static void f(const Stage& S, uint8_t* m, int p, int b) { real512<P, R>(S, m, p, b); } };

void binaryTile512(const Engine&, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  for (int b = b0; b < b0 + nb; b += 4)
    for (int p = p0; p < p0 + np; p += 4) Dispatch4<Bin512>::run(S, mem, p, std::min(4, p0 + np - p), b, std::min(4, b0 + nb - b));
}
void realTile512(const Engine&, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  for (int b = b0; b < b0 + nb; b += 4)
    for (int p = p0; p < p0 + np; p += 4) Dispatch4<Real512>::run(S, mem, p, std::min(4, p0 + np - p), b, std::min(4, b0 + nb - b));
}

// The machine's ceiling on this path: 12 independent xor + vpopcntd + add chains in registers (the kernel's inner
// step without its loads); the empty asm makes `w` opaque so that nothing is hoisted out of the loop.
double peak512(long iters) {
  __m512i w = _mm512_set1_epi32(0x5a5a5a5a);
  __m512i x[12], a[12];
  for (int i = 0; i < 12; i++) x[i] = _mm512_set1_epi32(0x01234567 * (i + 1)), a[i] = _mm512_setzero_si512();
  for (long it = 0; it < iters; it++) {
    asm volatile("" : "+v"(w));
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm512_add_epi32(a[i], _mm512_popcnt_epi32(_mm512_xor_si512(x[i], w)));
  }
  __m512i s = a[0];
  for (int i = 1; i < 12; i++) s = _mm512_add_epi32(s, a[i]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return static_cast<double>(iters) * 12 * 512;
}
#pragma GCC pop_options

// ------------------------------------------------------------------------------------------------ AVX2

#pragma GCC push_options
#pragma GCC target("avx2,popcnt")

// popcount of each byte (nibble lookup)
inline __m256i popcnt8(__m256i v, __m256i lut, __m256i low) {
  const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}
// byte counts → per 32-bit lane sums
inline __m256i widen8(__m256i c) { return _mm256_madd_epi16(_mm256_maddubs_epi16(c, _mm256_set1_epi8(1)), _mm256_set1_epi16(1)); }
inline __m256i lut8() { return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4); }

// P pixels × 1 block (2 × 8 lanes); 8-bit counters widened every 31 words (≤ 8·31 = 248 per byte)
template <int P>
void bin256(const Stage& S, uint8_t* mem, int p0, int b) {
  const int32_t* tab = i32(mem, S.tab);
  const uint32_t* x[P];
  for (int j = 0; j < P; j++) x[j] = reinterpret_cast<const uint32_t*>(mem + tab[p0 + j]);
  const __m256i lut = lut8(), low = _mm256_set1_epi8(0x0f);
  __m256i acc[P][2], c8[P][2];
  for (int j = 0; j < P; j++) acc[j][0] = acc[j][1] = _mm256_setzero_si256();
  const uint32_t* W = S.w.data() + static_cast<size_t>(b) * S.Kw * 16;
  const int ss = S.segStride / 4, sw = S.segWords;
  int run = 0;
  for (int j = 0; j < P; j++) c8[j][0] = c8[j][1] = _mm256_setzero_si256();
  for (int s = 0, k = 0; s < S.segs; s++)
    for (int i = 0; i < sw; i++, k++) {
      const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(W + k * 16));
      const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(W + k * 16 + 8));
#pragma GCC unroll 4
      for (int j = 0; j < P; j++) {
        const __m256i xb = _mm256_set1_epi32(static_cast<int>(x[j][s * ss + i]));
        c8[j][0] = _mm256_add_epi8(c8[j][0], popcnt8(_mm256_xor_si256(xb, w0), lut, low));
        c8[j][1] = _mm256_add_epi8(c8[j][1], popcnt8(_mm256_xor_si256(xb, w1), lut, low));
      }
      if (++run == 31) {
        for (int j = 0; j < P; j++)
          for (int h = 0; h < 2; h++) acc[j][h] = _mm256_add_epi32(acc[j][h], widen8(c8[j][h])), c8[j][h] = _mm256_setzero_si256();
        run = 0;
      }
    }
  const int32_t* pat = i32(mem, S.patTab);
  const int32_t* dst = i32(mem, S.dstTab);
  for (int j = 0; j < P; j++) {
    const int p = p0 + j;
    const int32_t* A = i32(mem, pat[p]) + b * 16;
    __m256i y[2];
    for (int h = 0; h < 2; h++) {
      const __m256i pc = _mm256_add_epi32(acc[j][h], widen8(c8[j][h]));
      y[h] = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(A + 8 * h)), _mm256_slli_epi32(pc, 1));
    }
    if (S.final) {
      int32_t* out = reinterpret_cast<int32_t*>(mem + (S.direct ? dst[p] : S.outOff + p * S.noutp * 4)) + b * 16;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), y[0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), y[1]);
      continue;
    }
    uint32_t m = 0;
    for (int h = 0; h < 2; h++) {
      // y ≥ U ⇔ !(U > y)
      const __m256i lt = _mm256_cmpgt_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(S.U.data() + b * 16 + 8 * h)), y[h]);
      m |= (~static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(lt))) & 0xffu) << (8 * h);
    }
    const uint16_t mm = static_cast<uint16_t>(m) ^ S.epiXor[b];
    if (S.direct)
      for (int k = 0; k < S.K; k++) put16(mem, dst[p * S.K + k] + 2 * b, mm);
    else
      put16(mem, S.outOff + (p * S.nob + b) * 2, mm);
  }
}

void binaryTile256(const Engine&, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  for (int b = b0; b < b0 + nb; b++) {
    int p = p0;
    for (; p + 2 <= p0 + np; p += 2) bin256<2>(S, mem, p, b);
    if (p < p0 + np) bin256<1>(S, mem, p, b);
  }
}

void realTile256(const Engine&, const Stage& S, uint8_t* mem, int p0, int np, int b0, int nb) {
  const int ss = S.segStride / 4;
  const float* W = reinterpret_cast<const float*>(mem + S.wOff);
  const int32_t* dst = i32(mem, S.dstTab);
  for (int p = p0; p < p0 + np; p++) {
    const float* x = reinterpret_cast<const float*>(mem + i32(mem, S.tab)[p]);
    for (int b = b0; b < b0 + nb; b++) {
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      for (int s = 0, q = 0; s < S.segs; s++)
        for (int i = 0; i < S.segWords; i++, q++) {
          const __m256 xv = _mm256_set1_ps(x[s * ss + i]);
          const float* w = W + static_cast<size_t>(q) * S.noutp + b * 16;
          a0 = _mm256_add_ps(a0, _mm256_mul_ps(xv, _mm256_loadu_ps(w)));
          a1 = _mm256_add_ps(a1, _mm256_mul_ps(xv, _mm256_loadu_ps(w + 8)));
        }
      uint32_t m = 0;
      const __m256 acc[2] = {a0, a1};
      for (int h = 0; h < 2; h++) {
        const __m256 y = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(acc[h]),
                                                              _mm256_load_si256(reinterpret_cast<const __m256i*>(S.flip.data() + b * 16 + 8 * h))));
        m |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(y, _mm256_load_ps(S.st.data() + b * 16 + 8 * h), _CMP_GE_OQ))) << (8 * h);
      }
      if (S.direct)
        for (int k = 0; k < S.K; k++) put16(mem, dst[p * S.K + k] + 2 * b, static_cast<uint16_t>(m));
      else
        put16(mem, S.outOff + (p * S.nob + b) * 2, static_cast<uint16_t>(m));
    }
  }
}

// 4 chains of xor + nibble-lookup popcount + 8-bit add, widened every 31 steps.
double peak256(long iters) {
  const __m256i lut = lut8(), low = _mm256_set1_epi8(0x0f);
  __m256i w = _mm256_set1_epi32(0x5a5a5a5a), x[4], c[4], a[4];
  for (int i = 0; i < 4; i++) x[i] = _mm256_set1_epi32(0x01234567 * (i + 1)), a[i] = _mm256_setzero_si256();
  const long outer = (iters + 30) / 31;
  for (long o = 0; o < outer; o++) {
    for (int i = 0; i < 4; i++) c[i] = _mm256_setzero_si256();
    for (int it = 0; it < 31; it++) {
      asm volatile("" : "+x"(w));
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) c[i] = _mm256_add_epi8(c[i], popcnt8(_mm256_xor_si256(x[i], w), lut, low));
    }
    for (int i = 0; i < 4; i++) a[i] = _mm256_add_epi32(a[i], widen8(c[i]));
  }
  __m256i s = _mm256_add_epi32(_mm256_add_epi32(a[0], a[1]), _mm256_add_epi32(a[2], a[3]));
  volatile int sink = _mm256_extract_epi32(s, 0);
  (void)sink;
  return static_cast<double>(outer) * 31 * 4 * 256;
}
#pragma GCC pop_options

__attribute__((target("popcnt"))) double peakScalarPopcnt(long iters) {
  uint64_t w = 0x5a5a5a5a5a5a5a5aull, x[8], a[8];
  for (int i = 0; i < 8; i++) x[i] = 0x0123456789abcdefull * (i + 1), a[i] = 0;
  for (long it = 0; it < iters; it++) {
    asm volatile("" : "+r"(w));
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) a[i] += static_cast<uint64_t>(__builtin_popcountll(x[i] ^ w));
  }
  volatile uint64_t sink = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
  (void)sink;
  return static_cast<double>(iters) * 8 * 64;
}
#else
double peakScalarGeneric(long iters) {
  uint64_t w = 0x5a5a5a5a5a5a5a5aull, x[8], a[8];
  for (int i = 0; i < 8; i++) x[i] = 0x0123456789abcdefull * (i + 1), a[i] = 0;
  for (long it = 0; it < iters; it++) {
    asm volatile("" : "+r"(w));
    for (int i = 0; i < 8; i++) a[i] += static_cast<uint64_t>(__builtin_popcountll(x[i] ^ w));
  }
  volatile uint64_t sink = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
  (void)sink;
  return static_cast<double>(iters) * 8 * 64;
}
#endif

// ------------------------------------------------------------------------------------------------ running

// After a stage's GEMM (when it pools): OR of the window's bits (then XOR neg), or max of the final stage's y.
void route(const Stage& S, uint8_t* mem, int q0, int q1) {
  const int32_t* src = i32(mem, S.srcTab);
  const int32_t* dst = i32(mem, S.dstTab);
  if (S.final) {
    const int32_t* y = i32(mem, S.outOff);
    for (int q = q0; q < q1; q++) {
      int32_t* out = reinterpret_cast<int32_t*>(mem + dst[q]);
      for (int o = 0; o < S.noutp; o++) {
        int32_t m = y[(src[q] + S.window[0]) * S.noutp + o];
        for (size_t d = 1; d < S.window.size(); d++) m = std::max(m, y[(src[q] + S.window[d]) * S.noutp + o]);
        out[o] = m;
      }
    }
    return;
  }
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(mem + S.outOff);
  for (int q = q0; q < q1; q++)
    for (int b = 0; b < S.nob; b++) {
      uint16_t m = 0;
      for (int d : S.window) m |= bits[(src[q] + d) * S.nob + b];
      m ^= S.routeXor[b];
      for (int k = 0; k < S.K; k++) put16(mem, dst[q * S.K + k] + 2 * b, m);
    }
}

// Tiles of a stage: out-block groups of RB blocks (outer: a group's kernel words stay in cache) × PB pixels.
inline int tileCount(const Engine& E, const Stage& S) { return ((S.nob + E.RB - 1) / E.RB) * ((S.npix + E.PB - 1) / E.PB); }
inline void runTile(const Engine& E, const Stage& S, uint8_t* mem, int t) {
  const int npb = (S.npix + E.PB - 1) / E.PB;
  const int g = t / npb, pb = t % npb;
  const int p0 = pb * E.PB, b0 = g * E.RB;
  (S.real ? E.real : E.bin)(E, S, mem, p0, std::min(E.PB, S.npix - p0), b0, std::min(E.RB, S.nob - b0));
}

void writeInput(const Engine& E, uint8_t* mem, const float* img) {
  float* f = reinterpret_cast<float*>(mem + E.inOff);
  for (int y = 0; y < E.H; y++) std::memcpy(f + ((y + E.padTop) * E.Wp + E.padLeft) * E.C, img + y * E.W * E.C, sizeof(float) * E.W * E.C);
}

void readFinal(const Engine& E, const uint8_t* mem, int32_t* out) {
  const int32_t* y = i32(mem, E.finOff);
  for (int p = 0; p < E.finNpix; p++) std::memcpy(out + p * E.finOutC, y + p * E.finNoutp, sizeof(int32_t) * E.finOutC);
}

// One image on the calling thread.
void runSerial(const Engine& E, uint8_t* mem, const float* img, int32_t* out) {
  writeInput(E, mem, img);
  for (const Stage& S : E.stages) {
    const int n = tileCount(E, S);
    for (int t = 0; t < n; t++) runTile(E, S, mem, t);
    if (!S.direct) route(S, mem, 0, S.nq);
  }
  readFinal(E, mem, out);
}

void runPhaseTile(const Engine& E, const Phase& ph, uint8_t* mem, int t) {
  const Stage& S = E.stages[ph.stage];
  if (ph.route) route(S, mem, t * kRouteChunk, std::min(S.nq, (t + 1) * kRouteChunk));
  else runTile(E, S, mem, t);
}

void runChunk(const Engine& E, const Phase& ph, uint8_t* mem, int c) {
  for (int t = c * ph.chunk; t < std::min(ph.tiles, (c + 1) * ph.chunk); t++) runPhaseTile(E, ph, mem, t);
}

// One image on E.threads threads, without barriers: the phases (each stage's GEMM tiles, then its pooling) in order;
// each thread claims chunks of tiles from the phase's counter; once none is left it waits briefly for the chunks
// others are running and then runs itself any chunk still not marked done (tiles are idempotent: a second run writes
// the same bytes), so a thread that the OS deschedules mid-chunk holds the others up by at most the wait; the next
// phase starts once every chunk of this one is done. The one join is at the end (no late write may reach the next
// image).
void runSplit(const Engine& E, uint8_t* mem, const float* img, int32_t* out) {
  using clock = std::chrono::steady_clock;
  writeInput(E, mem, img);
  const uint32_t ep = ++E.epoch;
  for (size_t i = 0; i < E.phases.size(); i++) E.claims[i].store(0, std::memory_order_relaxed);
#pragma omp parallel num_threads(E.threads)
  for (size_t i = 0; i < E.phases.size(); i++) {
    const Phase& ph = E.phases[i];
    std::atomic<uint32_t>* done = E.done.get() + ph.doneOff;
    const auto t0 = clock::now();
    for (int c; (c = E.claims[i].fetch_add(1, std::memory_order_relaxed)) < ph.chunks;) {
      runChunk(E, ph, mem, c);
      done[c].store(ep, std::memory_order_release);
    }
    // wait for the chunks in flight about as long as this thread's own took, then take over what is left
    const auto patience = std::max<clock::duration>(clock::now() - t0, std::chrono::microseconds(20));
    const auto until = clock::now() + patience;
    for (int c = 0; c < ph.chunks; c++) {
      while (done[c].load(std::memory_order_acquire) != ep && clock::now() < until)
#if BNN_X86
        _mm_pause();
#else
        ;
#endif
      if (done[c].load(std::memory_order_acquire) != ep) {
        runChunk(E, ph, mem, c);
        done[c].store(ep, std::memory_order_release);
      }
    }
  }
  readFinal(E, mem, out);
}

void runBatch(const Engine& E, const float* images, int n, int32_t* out) {
  const size_t per = static_cast<size_t>(E.H) * E.W * E.C, outPer = static_cast<size_t>(E.finNpix) * E.finOutC;
  if (n == 1 && E.threads > 1) return runSplit(E, E.ctx[0]->data(), images, out);
  if (E.threads == 1) {
    for (int i = 0; i < n; i++) runSerial(E, E.ctx[0]->data(), images + i * per, out + i * outPer);
    return;
  }
#pragma omp parallel num_threads(E.threads)
  {
    uint8_t* mem = E.ctx[omp_get_thread_num()]->data();
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) runSerial(E, mem, images + i * per, out + i * outPer);
  }
}

// ------------------------------------------------------------------------------------------------ construction

// Builds the engine; throws std::runtime_error naming what is inconsistent.
std::unique_ptr<Engine> build(const uint8_t* mem0, size_t bytes, const int32_t* st, size_t nst, const int32_t* win, size_t nwin,
                              const int32_t* io, Isa isa, int threads) {
  auto E = std::make_unique<Engine>();
  E->isa = isa;
  E->threads = threads;
  E->memBytes = bytes;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error("packedCreate: " + what);
  };
  auto inMem = [&](int64_t off, int64_t len) { return off >= 0 && len >= 0 && off + len <= static_cast<int64_t>(bytes); };
  auto rd = [&](int64_t off) {
    int32_t v;
    std::memcpy(&v, mem0 + off, 4);
    return v;
  };
  need(nst % NS == 0 && nst > 0, "stages must hold " + std::to_string(NS) + " fields per stage");
  E->inOff = io[0], E->H = io[1], E->W = io[2], E->C = io[3], E->Wp = io[4], E->padTop = io[5], E->padLeft = io[6];
  E->finOff = io[7], E->finNpix = io[8], E->finNoutp = io[9], E->finOutC = io[10];
  need(E->H > 0 && E->W > 0 && E->C > 0 && E->Wp >= E->W + E->padLeft && (E->inOff & 3) == 0 &&
           inMem(E->inOff, ((static_cast<int64_t>(E->H) - 1 + E->padTop) * E->Wp + E->padLeft + E->W) * E->C * 4),
       "the input image lies outside the memory");
  need(E->finOutC > 0 && E->finOutC <= E->finNoutp && (E->finOff & 3) == 0 && inMem(E->finOff, static_cast<int64_t>(E->finNpix) * E->finNoutp * 4),
       "the final buffer lies outside the memory");
  const size_t ns = nst / NS;
  E->stages.resize(ns);
  for (size_t i = 0; i < ns; i++) {
    const int32_t* f = st + i * NS;
    Stage& S = E->stages[i];
    const std::string who = "stage " + std::to_string(i) + ": ";
    S.real = f[fReal] != 0, S.final = f[fFinal] != 0, S.afterSign = f[fAfterSign] != 0;
    S.npix = f[fNpix], S.noutp = f[fNoutp], S.outC = f[fOutC], S.nob = S.noutp / 16;
    S.tab = f[fTab], S.segs = f[fSegs], S.segStride = f[fSegStride], S.wOff = f[fWOff], S.outOff = f[fOutOff];
    S.nq = f[fNq], S.srcTab = f[fSrcTab], S.dstTab = f[fDstTab], S.K = f[fK], S.patTab = f[fPatTab];
    const int segBytes = f[fSegBytes], KB = f[fKB];
    need(S.npix > 0 && S.noutp > 0 && S.noutp % 16 == 0 && S.outC > 0 && S.outC <= S.noutp && S.segs > 0 && segBytes > 0 && segBytes % 4 == 0 &&
             S.segStride % 4 == 0 && S.nq > 0 && S.K > 0 && f[fNpixP] >= S.npix,
         who + "bad geometry");
    need(f[fWinLen] > 0 && f[fWinOff] >= 0 && static_cast<size_t>(f[fWinOff]) + f[fWinLen] <= nwin, who + "pool window outside `windows`");
    S.window.assign(win + f[fWinOff], win + f[fWinOff] + f[fWinLen]);
    S.segWords = segBytes / 4;
    S.Kw = S.segs * S.segWords;
    need(inMem(S.tab, 4 * static_cast<int64_t>(S.npix)), who + "patch table outside the memory");
    for (int p = 0; p < S.npix; p++) {
      const int32_t t = rd(S.tab + 4 * p);
      need((t & 3) == 0 && inMem(t, static_cast<int64_t>(S.segs - 1) * S.segStride + segBytes), who + "a patch lies outside the memory");
    }
    need(inMem(S.outOff, static_cast<int64_t>(S.npix) * S.noutp * 4) && (S.outOff & 3) == 0, who + "scratch outside the memory");
    need(inMem(S.srcTab, 4 * static_cast<int64_t>(S.nq)) && inMem(S.dstTab, 4 * static_cast<int64_t>(S.nq) * S.K), who + "route tables outside the memory");
    bool identity = S.window.size() == 1 && S.window[0] == 0 && S.nq == S.npix;
    for (int q = 0; q < S.nq; q++) {
      const int32_t s = rd(S.srcTab + 4 * q);
      identity = identity && s == q;
      for (int d : S.window) need(s + d >= 0 && s + d < S.npix, who + "a pool window leaves the conv output");
      for (int k = 0; k < S.K; k++) {
        const int32_t d = rd(S.dstTab + 4 * (q * S.K + k));
        need(S.final ? (d & 3) == 0 && inMem(d, S.noutp * 4) : (d & 1) == 0 && inMem(d, S.noutp / 8), who + "a destination lies outside the memory");
      }
    }
    S.direct = identity;
    need(!S.final || S.K == 1, who + "the final stage has one destination");
    need(!S.real || !S.final, who + "a real-input final stage is not supported");
    if (S.real) {
      need((S.wOff & 3) == 0 && KB == S.noutp * 4 && inMem(S.wOff, static_cast<int64_t>(S.Kw) * KB), who + "weights outside the memory");
      need(inMem(f[fSgnOff], S.noutp * 4) && inMem(f[fTOff], S.noutp * 4), who + "thresholds outside the memory");
      S.flip.reset(S.noutp);
      S.st.reset(S.noutp);
      for (int o = 0; o < S.noutp; o++) {
        float sg, t;
        std::memcpy(&sg, mem0 + f[fSgnOff] + 4 * o, 4);
        std::memcpy(&t, mem0 + f[fTOff] + 4 * o, 4);
        S.flip[o] = sg < 0 ? 0x80000000u : 0u;
        S.st[o] = t;
      }
      S.epiXor.assign(S.nob, 0);
      S.routeXor.assign(S.nob, 0);
    } else {
      need(KB == S.Kw * 4 && inMem(S.wOff, static_cast<int64_t>(S.noutp) * KB), who + "weights outside the memory");
      need(inMem(S.patTab, 4 * static_cast<int64_t>(S.npix)), who + "padding table outside the memory");
      for (int p = 0; p < S.npix; p++) need(inMem(rd(S.patTab + 4 * p), S.noutp * 4), who + "a padding row lies outside the memory");
      S.w.reset(static_cast<size_t>(S.nob) * S.Kw * 16);
      for (int o = 0; o < S.noutp; o++)
        for (int k = 0; k < S.Kw; k++) std::memcpy(&S.w[(static_cast<size_t>(o / 16) * S.Kw + k) * 16 + o % 16], mem0 + S.wOff + o * KB + 4 * k, 4);
      S.U.reset(S.noutp);
      std::vector<uint16_t> neg(S.nob, 0);
      if (!S.final) {
        need(inMem(f[fSgnOff], S.noutp * 4) && inMem(f[fTOff], S.noutp * 4), who + "thresholds outside the memory");
        for (int o = 0; o < S.noutp; o++) {
          const int32_t sg = rd(f[fSgnOff] + 4 * o), T = rd(f[fTOff] + 4 * o);
          need(T >= -(1 << 30) && T <= (1 << 30), who + "threshold out of range");
          // sgn·y ≥ T: y ≥ T, or (negative scale) −y ≥ T ⇔ !(y ≥ 1 − T)
          S.U[o] = sg < 0 ? 1 - T : T;
          if (sg < 0) neg[o / 16] |= static_cast<uint16_t>(1u << (o % 16));
        }
      }
      // the compare bits get XOR neg once: right away, or after an OR-pool of the compare bits (pool before BN)
      const bool poolBefore = !S.direct && !S.afterSign;
      S.epiXor.assign(S.nob, 0);
      S.routeXor.assign(S.nob, 0);
      for (int b = 0; b < S.nob; b++) (poolBefore ? S.routeXor : S.epiXor)[b] = neg[b];
    }
  }
  need(E->stages.back().final, "the last stage must be the final one");
  if (isa == kAvx512) E->PB = 4, E->RB = 4;
  else if (isa == kAvx2) E->PB = 2, E->RB = 1;
  else E->PB = 1, E->RB = 1;
#if BNN_X86
  if (isa == kAvx512) E->bin = binaryTile512, E->real = realTile512;
  else if (isa == kAvx2) E->bin = binaryTile256, E->real = realTile256;
  else E->bin = cpuHas(kAvx2) || __builtin_cpu_supports("popcnt") ? binaryTilePopcnt : binaryTileGeneric, E->real = realTileScalar;
#else
  E->bin = binaryTileGeneric, E->real = realTileScalar;
#endif
  // claims: about 8 per thread and phase (fewer claims: less traffic on the shared counters and done marks)
  int nDone = 0;
  auto addPhase = [&](int stage, bool isRoute, int tiles) {
    const int chunk = std::max(1, tiles / (8 * threads));
    const int chunks = (tiles + chunk - 1) / chunk;
    E->phases.push_back({stage, isRoute, tiles, chunk, chunks, nDone});
    nDone += chunks;
  };
  for (size_t i = 0; i < E->stages.size(); i++) {
    const Stage& S = E->stages[i];
    addPhase(static_cast<int>(i), false, tileCount(*E, S));
    if (!S.direct) addPhase(static_cast<int>(i), true, (S.nq + kRouteChunk - 1) / kRouteChunk);
  }
  E->claims.reset(new std::atomic<int>[E->phases.size()]);
  E->done.reset(new std::atomic<uint32_t>[nDone]);
  for (int i = 0; i < nDone; i++) E->done[i].store(0);
  for (int t = 0; t < threads; t++) {
    E->ctx.push_back(std::make_unique<Aligned<uint8_t>>(bytes));
    std::memcpy(E->ctx.back()->data(), mem0, bytes);
  }
  return E;
}

// ------------------------------------------------------------------------------------------------ Node-API

struct Handle {
  std::unique_ptr<Engine> e;
};

void throwError(napi_env env, const std::string& msg) { napi_throw_error(env, nullptr, msg.c_str()); }

template <class T>
bool typed(napi_env env, napi_value v, napi_typedarray_type want, T** data, size_t* n) {
  napi_typedarray_type t;
  void* d;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, n, &d, &ab, &off) != napi_ok || t != want) return false;
  *data = static_cast<T*>(d);
  return true;
}

std::string str(napi_env env, napi_value v) {
  char buf[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &n) != napi_ok) return "";
  return std::string(buf, n);
}

int parseIsa(const std::string& s) {
  for (int i = 0; i < 3; i++)
    if (s == kIsaNames[i]) return i;
  return -1;
}

Handle* handleOf(napi_env env, napi_value v) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return nullptr;
  return static_cast<Handle*>(p);
}

napi_value CreateFn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  uint8_t* mem;
  int32_t *st, *win, *io;
  size_t nmem, nst, nwin, nio;
  if (argc < 6 || !typed(env, a[0], napi_uint8_array, &mem, &nmem) || !typed(env, a[1], napi_int32_array, &st, &nst) ||
      !typed(env, a[2], napi_int32_array, &win, &nwin) || !typed(env, a[3], napi_int32_array, &io, &nio) || nio != 11) {
    napi_throw_type_error(env, nullptr, "packedCreate(memory Uint8Array, stages Int32Array, windows Int32Array, io Int32Array(11), isa, threads)");
    return nullptr;
  }
  const std::string isaName = str(env, a[4]);
  const int isa = parseIsa(isaName);
  int32_t threads = 1;
  napi_get_value_int32(env, a[5], &threads);
  if (isa < 0) return throwError(env, "packedCreate: isa '" + isaName + "' is not one of avx512, avx2, scalar"), nullptr;
  if (!cpuHas(static_cast<Isa>(isa))) return throwError(env, std::string("packedCreate: this CPU cannot run the ") + kIsaNames[isa] + " path"), nullptr;
  if (threads < 1 || threads > 256) return throwError(env, "packedCreate: threads must be 1..256"), nullptr;
  try {
    auto h = new Handle{build(mem, nmem, st, nst, win, nwin, io, static_cast<Isa>(isa), threads)};
    napi_value ext;
    napi_create_external(env, h, [](napi_env, void* p, void*) { delete static_cast<Handle*>(p); }, nullptr, &ext);
    return ext;
  } catch (const std::exception& e) {
    throwError(env, e.what());
    return nullptr;
  }
}

napi_value RunFn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Handle* h = argc >= 4 ? handleOf(env, a[0]) : nullptr;
  float* x;
  int32_t* out;
  size_t nx, nout;
  int32_t n = 0;
  if (!h || !typed(env, a[1], napi_float32_array, &x, &nx) || napi_get_value_int32(env, a[2], &n) != napi_ok ||
      !typed(env, a[3], napi_int32_array, &out, &nout)) {
    napi_throw_type_error(env, nullptr, "packedRun(handle, images Float32Array, n, out Int32Array)");
    return nullptr;
  }
  if (!h->e) return throwError(env, "packedRun: the engine was freed"), nullptr;
  const Engine& E = *h->e;
  const size_t per = static_cast<size_t>(E.H) * E.W * E.C, outPer = static_cast<size_t>(E.finNpix) * E.finOutC;
  if (n < 0 || nx < static_cast<size_t>(n) * per || nout < static_cast<size_t>(n) * outPer)
    return throwError(env, "packedRun: images or out too small for " + std::to_string(n) + " images"), nullptr;
  if (n > 0) runBatch(E, x, n, out);
  return nullptr;
}

napi_value FreeFn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Handle* h = argc >= 1 ? handleOf(env, a[0]) : nullptr;
  if (h) h->e.reset();
  return nullptr;
}

napi_value PeakFn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  const std::string isaName = argc >= 1 ? str(env, a[0]) : "";
  const int isa = parseIsa(isaName);
  int32_t threads = 1;
  int64_t iters = 0;
  double seconds = 0;
  if (argc >= 2) napi_get_value_int32(env, a[1], &threads);
  if (argc >= 3) napi_get_value_int64(env, a[2], &iters);
  if (argc >= 4) napi_get_value_double(env, a[3], &seconds);
  if (isa < 0 || !cpuHas(static_cast<Isa>(isa))) return throwError(env, "popcountPeak: isa '" + isaName + "' is not available on this CPU"), nullptr;
  if (threads < 1 || threads > 256 || iters < 1 || !(seconds >= 0 && seconds <= 60))
    return throwError(env, "popcountPeak(isa, threads 1..256, iterations ≥ 1, seconds in [0, 60])"), nullptr;
  // seconds > 0: every thread runs chunks of `iters` steps until the deadline; only chunks finished by then count, so
  // a thread the OS deschedules contributes less. seconds = 0: `iters` steps in all (a fixed amount of work, timed by
  // the wall clock like an engine's call), claimed by the threads in chunks as the engine claims its tiles.
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  auto step = [&](long n) {
#if BNN_X86
    return isa == kAvx512 ? peak512(n) : isa == kAvx2 ? peak256(n) : peakScalarPopcnt(n);
#else
    return peakScalarGeneric(n);
#endif
  };
  double macs = 0;
  const long chunk = 2000, chunks = static_cast<long>((iters + chunk - 1) / chunk);
#pragma omp parallel num_threads(threads) reduction(+ : macs)
  {
    if (seconds == 0) {
#pragma omp for schedule(dynamic, 1)
      for (long c = 0; c < chunks; c++) macs += step(std::min<long>(chunk, static_cast<long>(iters) - c * chunk));
    } else
      for (;;) {
        const double m = step(static_cast<long>(iters));
        if (clock::now() > deadline) break;
        macs += m;
      }
  }
  const double wall = std::chrono::duration<double>(clock::now() - t0).count();
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_double(env, macs, &v);
  napi_set_named_property(env, o, "macs", v);
  napi_create_double(env, seconds == 0 ? wall : seconds, &v);
  napi_set_named_property(env, o, "seconds", v);
  return o;
}

napi_value CpuFn(napi_env env, napi_callback_info) {
  napi_value o, isas, feats, s;
  napi_create_object(env, &o);
  napi_create_array(env, &isas);
  uint32_t k = 0;
  for (int i = 2; i >= 0; i--)
    if (cpuHas(static_cast<Isa>(i))) napi_create_string_utf8(env, kIsaNames[i], NAPI_AUTO_LENGTH, &s), napi_set_element(env, isas, k++, s);
  napi_set_named_property(env, o, "isas", isas);
  napi_create_array(env, &feats);
  std::string brand;
#if BNN_X86
  __builtin_cpu_init();
  const struct { const char* name; bool on; } fs[] = {
      {"popcnt", __builtin_cpu_supports("popcnt") != 0},         {"avx2", __builtin_cpu_supports("avx2") != 0},
      {"fma", __builtin_cpu_supports("fma") != 0},               {"avx512f", __builtin_cpu_supports("avx512f") != 0},
      {"avx512bw", __builtin_cpu_supports("avx512bw") != 0},     {"avx512vl", __builtin_cpu_supports("avx512vl") != 0},
      {"avx512vpopcntdq", __builtin_cpu_supports("avx512vpopcntdq") != 0}, {"avx512vnni", __builtin_cpu_supports("avx512vnni") != 0},
  };
  k = 0;
  for (const auto& f : fs)
    if (f.on) napi_create_string_utf8(env, f.name, NAPI_AUTO_LENGTH, &s), napi_set_element(env, feats, k++, s);
  unsigned r[12] = {0};
  if (__get_cpuid(0x80000000, &r[0], &r[1], &r[2], &r[3]) && r[0] >= 0x80000004) {
    char b[49] = {0};
    for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, reinterpret_cast<unsigned*>(b + 16 * i), reinterpret_cast<unsigned*>(b + 16 * i + 4),
                                                 reinterpret_cast<unsigned*>(b + 16 * i + 8), reinterpret_cast<unsigned*>(b + 16 * i + 12));
    brand = b;
    brand.erase(0, brand.find_first_not_of(' '));
    brand.erase(brand.find_last_not_of(' ') + 1);
  }
#endif
  napi_set_named_property(env, o, "features", feats);
  napi_create_string_utf8(env, brand.c_str(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "brand", s);
  return o;
}

}  // namespace

void registerPacked(napi_env env, napi_value exports) {
  const struct { const char* name; napi_callback fn; } fns[] = {
      {"packedCpu", CpuFn}, {"packedCreate", CreateFn}, {"packedRun", RunFn}, {"packedFree", FreeFn}, {"popcountPeak", PeakFn},
  };
  for (const auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
}
