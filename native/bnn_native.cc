// Native training kernels for the tfjs wasm backend: oneDNN convolutions and GEMMs that read and write tensors in
// place on tfjs-wasm's heap (the WebAssembly.Memory, shared when wasm runs threaded). JS passes the heap as a
// Uint8Array and byte offsets of each tensor; nothing is copied. Layouts are tfjs' own: activations NHWC, filters
// HWIO (= [kh, kw, Ci, Co]), matrices row-major. Convolution primitives are created once per shape and cached;
// the filter is reordered into oneDNN's blocked layout (small next to the activations) when the primitive asks
// for it. Every entry point returns false when oneDNN cannot handle a case, and JS then uses the wasm kernel.
//
//   info()                                  -> { version, runtime }
//   setThreads(n)                           oneDNN's (OpenMP) thread count
//   conv(kind, heap, a, b, c, dims)         kind 0: forward        a = x,  b = w,  c = y
//                                           kind 1: filter grad    a = x,  b = dy, c = dW
//                                           kind 2: input grad     a = dy, b = w,  c = dx
//                                           kind 3: forward of ±1 x and ±1 w as an int8 convolution (exact:
//                                                   int32 sums, zero padding stays 0); false if a value is not ±1
//     dims (Int32Array): N, H, W, Ci, Ho, Wo, Co, kh, kw, sh, sw, padTop, padLeft, padBottom, padRight
//   matmul(heap, a, b, c, dims)             C[i] = op(A[i]) · op(B[i]) for i < batch (row-major, transposes as
//                                           leading dimensions or strides: no copies); dnnl_sgemm, or the cached
//                                           matmul primitive for big transposed products (measured 2-3x faster
//                                           there, slower on small ones: its per-call overhead ~0.3 ms)
//     dims (Int32Array): batch, strideA, strideB, M, N, K, transA, transB   (strides in floats; 0 = broadcast)
//   maxpool(heap, x, y, dims)               max pooling, NHWC (padding never wins, as in tfjs)
//     dims (Int32Array): N, H, W, C, Ho, Wo, kh, kw, sh, sw, padTop, padLeft, padBottom, padRight
//   implementations()                       [ "<kind> <dims>: <oneDNN implementation>" ] for every cached primitive
//
// The addon also carries packed inference (packed.cc: the native XNOR-popcount engine; float_net.cc: the float32
// oneDNN network it is measured against); their entry points are listed there.
#include <node_api.h>
#include "addon.h"
#include <dnnl.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

extern "C" void omp_set_num_threads(int);

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

engine& eng() { static engine e(engine::kind::cpu, 0); return e; }
stream& strm() { static stream s(eng()); return s; }

struct Heap { uint8_t* base = nullptr; size_t bytes = 0; };

bool getHeap(napi_env env, napi_value v, Heap* h) {
  napi_typedarray_type t; size_t n; void* data; napi_value ab; size_t off;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &off) != napi_ok || t != napi_uint8_array) return false;
  h->base = static_cast<uint8_t*>(data); h->bytes = n;
  return true;
}

bool getDims(napi_env env, napi_value v, std::vector<int64_t>* out, size_t want) {
  napi_typedarray_type t; size_t n; void* data; napi_value ab; size_t off;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &off) != napi_ok || t != napi_int32_array || n != want) return false;
  const int32_t* d = static_cast<const int32_t*>(data);
  out->assign(d, d + n);
  return true;
}

int64_t getInt(napi_env env, napi_value v) { int64_t r = -1; napi_get_value_int64(env, v, &r); return r; }

// A float pointer at byte offset `off` of the heap, or null if `count` floats do not fit.
float* at(const Heap& h, int64_t off, int64_t count) {
  if (off < 0 || count < 0 || (off & 3) || static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > h.bytes) return nullptr;
  return reinterpret_cast<float*>(h.base + off);
}

napi_value boolean(napi_env env, bool b) { napi_value r; napi_get_boolean(env, b, &r); return r; }

std::string key(int kind, const std::vector<int64_t>& d) {
  std::string k = std::to_string(kind);
  for (int64_t v : d) { k += ','; k += std::to_string(v); }
  return k;
}

// Convert n floats to int8 if every one is exactly +1 or -1; false otherwise (out is then garbage).
bool signsToS8(const float* in, int8_t* out, int64_t n) {
  const int64_t B = 16384, nb = (n + B - 1) / B;
  int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
  for (int64_t b = 0; b < nb; b++) {
    if (bad) continue;
    const int64_t e = (b + 1) * B < n ? (b + 1) * B : n;
    int blk = 0;
    for (int64_t i = b * B; i < e; i++) {
      const float v = in[i];
      blk |= (v != 1.f) & (v != -1.f);
      out[i] = static_cast<int8_t>(v);
    }
    bad |= blk;
  }
  return !bad;
}

std::vector<int8_t> s8x, s8w;  // scratch: the int8 copies of x and w

// One cached convolution: the primitive for NHWC activations in place, and the filter's reorder if needed.
struct Conv {
  primitive prim;
  memory::desc act0, act1, userW;  // kind 0/1: act0 = src, act1 = dst / diff_dst; kind 2: act0 = diff_dst, act1 = diff_src
  memory inner;                    // filter (or filter gradient) in the primitive's layout, when it differs from HWIO
  bool reorderW = false;
  reorder wReorder;                // user HWIO -> inner (kinds 0, 2) or inner -> user HWIO (kind 1)
  std::string impl;
};

std::unordered_map<std::string, std::unique_ptr<Conv>> convCache;
std::vector<std::string> implList;

// Build (or fetch) the primitive for `kind` and `d`. Throws dnnl::error if oneDNN rejects the geometry.
Conv* convFor(int kind, const std::vector<int64_t>& d) {
  const std::string k = key(kind, d);
  auto it = convCache.find(k);
  if (it != convCache.end()) return it->second.get();
  const int64_t N = d[0], H = d[1], W = d[2], Ci = d[3], Ho = d[4], Wo = d[5], Co = d[6], kh = d[7], kw = d[8];
  const memory::dims strides{d[9], d[10]}, padL{d[11], d[12]}, padR{d[13], d[14]};
  static const char* names[] = {"conv-forward", "conv-filter-grad", "conv-input-grad", "conv-forward-int8"};
  if (kind == 3) {
    // int8 source and filter, float output written in place; the filter is reordered from int8 HWIO
    auto src = memory::desc({N, Ci, H, W}, dt::s8, tag::nhwc);
    auto dst = memory::desc({N, Co, Ho, Wo}, dt::f32, tag::nhwc);
    auto anyW = memory::desc({Co, Ci, kh, kw}, dt::s8, tag::any);
    auto fd = convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src, anyW, dst, strides, padL, padR);
    auto pd = convolution_forward::primitive_desc(fd, eng());
    auto c = std::make_unique<Conv>();
    c->prim = convolution_forward(pd);
    c->act0 = src; c->act1 = dst; c->userW = memory::desc({Co, Ci, kh, kw}, dt::s8, tag::hwio);
    c->impl = pd.impl_info_str();
    c->reorderW = pd.weights_desc() != c->userW;
    if (c->reorderW) {
      c->inner = memory(pd.weights_desc(), eng());
      c->wReorder = reorder(reorder::primitive_desc(eng(), c->userW, eng(), pd.weights_desc()));
    }
    implList.push_back(std::string(names[kind]) + " " + k.substr(k.find(',') + 1) + ": " + c->impl);
    Conv* p = c.get();
    convCache.emplace(k, std::move(c));
    return p;
  }
  auto src = memory::desc({N, Ci, H, W}, dt::f32, tag::nhwc);
  auto dst = memory::desc({N, Co, Ho, Wo}, dt::f32, tag::nhwc);
  auto userW = memory::desc({Co, Ci, kh, kw}, dt::f32, tag::hwio);
  auto anyW = memory::desc({Co, Ci, kh, kw}, dt::f32, tag::any);
  auto fwdD = convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src, anyW, dst, strides, padL, padR);
  auto fwdPd = convolution_forward::primitive_desc(fwdD, eng());
  auto c = std::make_unique<Conv>();
  c->userW = userW;
  memory::desc innerW;
  if (kind == 0) {
    c->prim = convolution_forward(fwdPd);
    c->act0 = src; c->act1 = dst; innerW = fwdPd.weights_desc();
    c->impl = fwdPd.impl_info_str();
  } else if (kind == 1) {
    auto bd = convolution_backward_weights::desc(algorithm::convolution_direct, src, anyW, dst, strides, padL, padR);
    auto pd = convolution_backward_weights::primitive_desc(bd, eng(), fwdPd);
    c->prim = convolution_backward_weights(pd);
    c->act0 = src; c->act1 = dst; innerW = pd.diff_weights_desc();
    c->impl = pd.impl_info_str();
  } else {
    auto bd = convolution_backward_data::desc(algorithm::convolution_direct, src, anyW, dst, strides, padL, padR);
    auto pd = convolution_backward_data::primitive_desc(bd, eng(), fwdPd);
    c->prim = convolution_backward_data(pd);
    c->act0 = dst; c->act1 = src; innerW = pd.weights_desc();
    c->impl = pd.impl_info_str();
  }
  c->reorderW = innerW != userW;
  if (c->reorderW) {
    c->inner = memory(innerW, eng());
    c->wReorder = kind == 1 ? reorder(reorder::primitive_desc(eng(), innerW, eng(), userW))
                            : reorder(reorder::primitive_desc(eng(), userW, eng(), innerW));
  }
  implList.push_back(std::string(names[kind]) + " " + k.substr(k.find(',') + 1) + ": " + c->impl);
  Conv* p = c.get();
  convCache.emplace(k, std::move(c));
  return p;
}

napi_value ConvFn(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value a[6];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Heap h; std::vector<int64_t> d;
  if (argc < 6 || !getHeap(env, a[1], &h) || !getDims(env, a[5], &d, 15)) {
    napi_throw_type_error(env, nullptr, "conv(kind, heapU8, a, b, c, dims Int32Array(15))");
    return nullptr;
  }
  const int kind = static_cast<int>(getInt(env, a[0]));
  if (kind < 0 || kind > 3) { napi_throw_range_error(env, nullptr, "conv: kind must be 0, 1, 2 or 3"); return nullptr; }
  const int64_t N = d[0], H = d[1], W = d[2], Ci = d[3], Ho = d[4], Wo = d[5], Co = d[6], kh = d[7], kw = d[8];
  const int64_t nx = N * H * W * Ci, ny = N * Ho * Wo * Co, nw = kh * kw * Ci * Co;
  const int64_t sizes[4][3] = {{nx, nw, ny}, {nx, ny, nw}, {ny, nw, nx}, {nx, nw, ny}};
  float* p0 = at(h, getInt(env, a[2]), sizes[kind][0]);
  float* p1 = at(h, getInt(env, a[3]), sizes[kind][1]);
  float* p2 = at(h, getInt(env, a[4]), sizes[kind][2]);
  if (!p0 || !p1 || !p2) { napi_throw_range_error(env, nullptr, "conv: a tensor lies outside the heap"); return nullptr; }
  try {
    Conv* c = convFor(kind, d);
    auto& s = strm();
    if (kind == 3) {
      if (s8x.size() < static_cast<size_t>(nx)) s8x.resize(nx);
      if (s8w.size() < static_cast<size_t>(nw)) s8w.resize(nw);
      if (!signsToS8(p1, s8w.data(), nw) || !signsToS8(p0, s8x.data(), nx)) return boolean(env, false);
      memory x8(c->act0, eng(), s8x.data()), w8(c->userW, eng(), s8w.data()), out(c->act1, eng(), p2);
      if (c->reorderW) c->wReorder.execute(s, w8, c->inner);
      c->prim.execute(s, {{DNNL_ARG_SRC, x8}, {DNNL_ARG_WEIGHTS, c->reorderW ? c->inner : w8}, {DNNL_ARG_DST, out}});
      s.wait();
      return boolean(env, true);
    }
    memory m0(c->act0, eng(), p0);
    if (kind == 0 || kind == 2) {
      // p1 = filter (HWIO), p2 = output activations
      memory userW(c->userW, eng(), p1), out(c->act1, eng(), p2);
      if (c->reorderW) c->wReorder.execute(s, userW, c->inner);
      const memory& w = c->reorderW ? c->inner : userW;
      if (kind == 0) c->prim.execute(s, {{DNNL_ARG_SRC, m0}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, out}});
      else c->prim.execute(s, {{DNNL_ARG_DIFF_DST, m0}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, out}});
    } else {
      // p1 = dy, p2 = filter gradient (HWIO)
      memory dy(c->act1, eng(), p1), userW(c->userW, eng(), p2);
      const memory& dw = c->reorderW ? c->inner : userW;
      c->prim.execute(s, {{DNNL_ARG_SRC, m0}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
      if (c->reorderW) c->wReorder.execute(s, c->inner, userW);
    }
    s.wait();
  } catch (const dnnl::error&) {
    return boolean(env, false);  // geometry oneDNN does not take (JS falls back to the wasm kernel)
  }
  return boolean(env, true);
}

struct MatMul { matmul::primitive_desc pd; matmul prim; };
std::unordered_map<std::string, std::unique_ptr<MatMul>> mmCache;

// The cached matmul primitive for dims d (batch, sA, sB, M, N, K, tA, tB).
MatMul* matmulFor(const std::vector<int64_t>& d) {
  const std::string k = key(4, d);
  auto it = mmCache.find(k);
  if (it != mmCache.end()) return it->second.get();
  const int64_t batch = d[0], M = d[3], N = d[4], K = d[5];
  const int64_t bA = d[1] ? batch : 1, bB = d[2] ? batch : 1;
  const bool tA = d[6] != 0, tB = d[7] != 0;
  // row-major [M,K] (or its transpose stored [K,M]) and [K,N] (or [N,K]) as strides; batch 1 broadcasts
  auto a = memory::desc({bA, M, K}, dt::f32, tA ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
  auto b = memory::desc({bB, K, N}, dt::f32, tB ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
  auto c = memory::desc({batch, M, N}, dt::f32, memory::dims{M * N, N, 1});
  auto pd = matmul::primitive_desc(matmul::desc(a, b, c), eng());
  implList.push_back("matmul " + k.substr(k.find(',') + 1) + ": " + pd.impl_info_str());
  auto p = std::make_unique<MatMul>(MatMul{pd, matmul(pd)});
  MatMul* r = p.get();
  mmCache.emplace(k, std::move(p));
  return r;
}

napi_value MatMulFn(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Heap h; std::vector<int64_t> d;
  if (argc < 5 || !getHeap(env, a[0], &h) || !getDims(env, a[4], &d, 8)) {
    napi_throw_type_error(env, nullptr, "matmul(heapU8, a, b, c, dims Int32Array(8))");
    return nullptr;
  }
  const int64_t batch = d[0], sA = d[1], sB = d[2], M = d[3], N = d[4], K = d[5];
  const bool tA = d[6] != 0, tB = d[7] != 0;
  float* A = at(h, getInt(env, a[1]), (batch - 1) * sA + M * K);
  float* B = at(h, getInt(env, a[2]), (batch - 1) * sB + K * N);
  float* C = at(h, getInt(env, a[3]), batch * M * N);
  if (!A || !B || !C || batch < 1) { napi_throw_range_error(env, nullptr, "matmul: a tensor lies outside the heap"); return nullptr; }
  if (!(tA || tB) || M * N * K < (int64_t(1) << 24)) {
    for (int64_t i = 0; i < batch; i++) {
      dnnl_status_t st = dnnl_sgemm(tA ? 'T' : 'N', tB ? 'T' : 'N', M, N, K, 1.f, A + i * sA, tA ? M : K,
                                    B + i * sB, tB ? K : N, 0.f, C + i * M * N, N);
      if (st != dnnl_success) return boolean(env, false);
    }
    return boolean(env, true);
  }
  try {
    MatMul* mm = matmulFor(d);
    memory am(mm->pd.src_desc(), eng(), A), bm(mm->pd.weights_desc(), eng(), B), cm(mm->pd.dst_desc(), eng(), C);
    mm->prim.execute(strm(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    strm().wait();
  } catch (const dnnl::error&) {
    return boolean(env, false);
  }
  return boolean(env, true);
}

std::unordered_map<std::string, std::unique_ptr<pooling_forward>> poolCache;

napi_value MaxPoolFn(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Heap h; std::vector<int64_t> d;
  if (argc < 4 || !getHeap(env, a[0], &h) || !getDims(env, a[3], &d, 14)) {
    napi_throw_type_error(env, nullptr, "maxpool(heapU8, x, y, dims Int32Array(14))");
    return nullptr;
  }
  const int64_t N = d[0], H = d[1], W = d[2], C = d[3], Ho = d[4], Wo = d[5];
  float* x = at(h, getInt(env, a[1]), N * H * W * C);
  float* y = at(h, getInt(env, a[2]), N * Ho * Wo * C);
  if (!x || !y) { napi_throw_range_error(env, nullptr, "maxpool: a tensor lies outside the heap"); return nullptr; }
  try {
    auto src = memory::desc({N, C, H, W}, dt::f32, tag::nhwc);
    auto dst = memory::desc({N, C, Ho, Wo}, dt::f32, tag::nhwc);
    const std::string k = key(5, d);
    auto it = poolCache.find(k);
    if (it == poolCache.end()) {
      auto pdesc = pooling_forward::desc(prop_kind::forward_inference, algorithm::pooling_max, src, dst,
                                         {d[8], d[9]}, {d[6], d[7]}, {d[10], d[11]}, {d[12], d[13]});
      auto pd = pooling_forward::primitive_desc(pdesc, eng());
      implList.push_back("maxpool " + k.substr(k.find(',') + 1) + ": " + pd.impl_info_str());
      it = poolCache.emplace(k, std::make_unique<pooling_forward>(pd)).first;
    }
    memory xm(src, eng(), x), ym(dst, eng(), y);
    it->second->execute(strm(), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}});
    strm().wait();
  } catch (const dnnl::error&) {
    return boolean(env, false);
  }
  return boolean(env, true);
}

napi_value SetThreadsFn(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  int64_t n = argc ? getInt(env, a[0]) : 1;
  omp_set_num_threads(static_cast<int>(n < 1 ? 1 : n));
  return nullptr;
}

napi_value InfoFn(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  napi_value o, s;
  napi_create_object(env, &o);
  std::string ver = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_create_string_utf8(env, ver.c_str(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "version", s);
  napi_create_string_utf8(env, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other", NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "runtime", s);
  return o;
}

napi_value ImplsFn(napi_env env, napi_callback_info) {
  napi_value arr;
  napi_create_array_with_length(env, implList.size(), &arr);
  for (size_t i = 0; i < implList.size(); i++) {
    napi_value s;
    napi_create_string_utf8(env, implList[i].c_str(), NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i, s);
  }
  return arr;
}

}  // namespace

NAPI_MODULE_INIT() {
  const struct { const char* name; napi_callback fn; } fns[] = {
    {"conv", ConvFn}, {"matmul", MatMulFn}, {"maxpool", MaxPoolFn}, {"setThreads", SetThreadsFn}, {"info", InfoFn}, {"implementations", ImplsFn},
  };
  for (const auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  registerPacked(env, exports);
  registerFloatNet(env, exports);
  return exports;
}
