// The float baseline of packed inference: the same network as a sequential packed model (src/inference/spec.ts), its
// ±1 kernels as float32 weights, run by oneDNN in float32 (no int8, no XNOR). Per stage:
//
//   conv      oneDNN convolution (direct, forward inference), activations NHWC, weights in the layout oneDNN picks
//             (reordered once); a dense stage (window = the whole input) is a oneDNN inner product
//   pool      oneDNN max pooling ('valid')
//   BN + sign the next layer's input, ±1.0f: bit = sgn·y ≥ sgn·t (the folded BN of spec.ts: the float model's
//             sign(BN(y)) exactly), one pass over the activations on the same threads
//   last      the float sums y; JS applies the final BN
//
// Primitives are created per batch size on first use (with the engine's thread count: oneDNN sizes its work split
// then) and cached; oneDNN's OpenMP thread count is set to the engine's for each call and restored after.
//
//   floatNetCreate(stages Int32Array, weights Float32Array[] (OHWI), sgn Float32Array[], st Float32Array[], threads)
//   floatNetRun(handle, images Float32Array [n·H·W·C], n, out Float32Array [n·outC])
//   floatNetInfo(handle)                    [ "<stage> <kind>: <oneDNN implementation>" ] of the primitives made so far
//   floatNetFree(handle)
#include "addon.h"
#include <dnnl.hpp>
#include <omp.h>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}

// Fields of one stage in the `stages` Int32Array (src/inference/native.ts writes them in this order).
enum Field { fInH, fInW, fInC, fOutC, fKh, fKw, fSh, fSw, fPadT, fPadL, fPadB, fPadR, fConvH, fConvW, fPool, fPkh, fPkw, fPsh, fPsw, fOutH, fOutW, fFinal, NF };

struct StageDef {
  int32_t f[NF];
  std::vector<float> w;  // OHWI
  std::vector<float> sg, st;
  bool dense() const { return f[fKh] == f[fInH] && f[fKw] == f[fInW] && f[fConvH] == 1 && f[fConvW] == 1 && f[fPadT] == 0 && f[fPadL] == 0; }
};

struct StageRun {
  primitive op, pool;
  memory src, wts, dst, pooled;
  bool hasPool = false;
};

struct Net {
  std::vector<StageRun> st;
  memory input;  // [N][H][W][C]
};

struct FloatNet {
  std::vector<StageDef> defs;
  int threads = 1;
  std::map<int, std::unique_ptr<Net>> nets;
  std::vector<std::string> impls;
};

// Sets oneDNN's (OpenMP) thread count for a scope.
struct Threads {
  int prev;
  explicit Threads(int n) : prev(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(prev); }
};

Net* netFor(FloatNet& F, int N) {
  auto it = F.nets.find(N);
  if (it != F.nets.end()) return it->second.get();
  auto net = std::make_unique<Net>();
  stream s(eng());
  const auto& d0 = F.defs[0].f;
  net->input = memory({{N, d0[fInC], d0[fInH], d0[fInW]}, dt::f32, tag::nhwc}, eng());
  memory prev = net->input;
  for (size_t i = 0; i < F.defs.size(); i++) {
    const StageDef& D = F.defs[i];
    const int32_t* f = D.f;
    StageRun r;
    const memory::desc src({N, f[fInC], f[fInH], f[fInW]}, dt::f32, tag::nhwc);
    const memory::desc userW({f[fOutC], f[fInC], f[fKh], f[fKw]}, dt::f32, tag::ohwi);
    const memory::desc anyW({f[fOutC], f[fInC], f[fKh], f[fKw]}, dt::f32, tag::any);
    memory::desc wDesc, dstDesc;
    const std::string who = "stage " + std::to_string(i);
    if (D.dense()) {
      const memory::desc dst({N, f[fOutC]}, dt::f32, tag::nc);
      auto pd = inner_product_forward::primitive_desc(inner_product_forward::desc(prop_kind::forward_inference, src, anyW, dst), eng());
      r.op = inner_product_forward(pd);
      wDesc = pd.weights_desc();
      dstDesc = dst;
      F.impls.push_back(who + " inner product (batch " + std::to_string(N) + "): " + pd.impl_info_str());
    } else {
      const memory::desc dst({N, f[fOutC], f[fConvH], f[fConvW]}, dt::f32, tag::nhwc);
      auto cd = convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src, anyW, dst, {f[fSh], f[fSw]},
                                          {f[fPadT], f[fPadL]}, {f[fPadB], f[fPadR]});
      auto pd = convolution_forward::primitive_desc(cd, eng());
      r.op = convolution_forward(pd);
      wDesc = pd.weights_desc();
      dstDesc = dst;
      F.impls.push_back(who + " convolution (batch " + std::to_string(N) + "): " + pd.impl_info_str());
    }
    r.src = prev;
    memory user(userW, eng(), const_cast<float*>(D.w.data()));
    if (wDesc != userW) {
      r.wts = memory(wDesc, eng());
      reorder(user, r.wts).execute(s, user, r.wts);
    } else {
      r.wts = memory(userW, eng());
      std::memcpy(r.wts.get_data_handle(), D.w.data(), D.w.size() * sizeof(float));
    }
    r.dst = memory(dstDesc, eng());
    memory out = r.dst;
    if (f[fPool]) {
      const memory::desc pdst({N, f[fOutC], f[fOutH], f[fOutW]}, dt::f32, tag::nhwc);
      const int padB = (f[fOutH] - 1) * f[fPsh] + f[fPkh] - f[fConvH], padR = (f[fOutW] - 1) * f[fPsw] + f[fPkw] - f[fConvW];
      auto pd = pooling_forward::primitive_desc(
          pooling_forward::desc(prop_kind::forward_inference, algorithm::pooling_max, dstDesc, pdst, {f[fPsh], f[fPsw]}, {f[fPkh], f[fPkw]}, {0, 0}, {padB, padR}),
          eng());
      r.pool = pooling_forward(pd);
      r.pooled = memory(pdst, eng());
      r.hasPool = true;
      out = r.pooled;
      F.impls.push_back(who + " max pool (batch " + std::to_string(N) + "): " + pd.impl_info_str());
    }
    // the next stage's input: ±1 floats, NHWC
    if (!f[fFinal]) prev = memory({{N, f[fOutC], f[fOutH], f[fOutW]}, dt::f32, tag::nhwc}, eng());
    net->st.push_back(std::move(r));
    (void)out;
  }
  s.wait();
  Net* p = net.get();
  F.nets.emplace(N, std::move(net));
  return p;
}

void run(FloatNet& F, const float* images, int N, float* out) {
  Threads th(F.threads);
  Net* net = netFor(F, N);
  stream s(eng());
  const auto& d0 = F.defs[0].f;
  std::memcpy(net->input.get_data_handle(), images, sizeof(float) * N * d0[fInH] * d0[fInW] * d0[fInC]);
  for (size_t i = 0; i < F.defs.size(); i++) {
    const StageDef& D = F.defs[i];
    StageRun& r = net->st[i];
    r.op.execute(s, {{DNNL_ARG_SRC, r.src}, {DNNL_ARG_WEIGHTS, r.wts}, {DNNL_ARG_DST, r.dst}});
    if (r.hasPool) r.pool.execute(s, {{DNNL_ARG_SRC, r.dst}, {DNNL_ARG_DST, r.pooled}});
    s.wait();
    const float* y = static_cast<const float*>((r.hasPool ? r.pooled : r.dst).get_data_handle());
    const int C = D.f[fOutC];
    const long pix = static_cast<long>(N) * D.f[fOutH] * D.f[fOutW];
    if (D.f[fFinal]) {
      std::memcpy(out, y, sizeof(float) * pix * C);
      break;
    }
    float* x = static_cast<float*>(net->st[i + 1].src.get_data_handle());
    const float* sg = D.sg.data();
    const float* st = D.st.data();
#pragma omp parallel for num_threads(F.threads) schedule(static)
    for (long p = 0; p < pix; p++)
      for (int c = 0; c < C; c++) x[p * C + c] = sg[c] * y[p * C + c] >= st[c] ? 1.f : -1.f;
  }
}

// ------------------------------------------------------------------------------------------------ Node-API

struct Handle {
  std::unique_ptr<FloatNet> f;
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

bool floatsAt(napi_env env, napi_value arr, uint32_t i, std::vector<float>* out) {
  napi_value v;
  float* d;
  size_t n;
  if (napi_get_element(env, arr, i, &v) != napi_ok || !typed(env, v, napi_float32_array, &d, &n)) return false;
  out->assign(d, d + n);
  return true;
}

Handle* handleOf(napi_env env, napi_value v) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return nullptr;
  return static_cast<Handle*>(p);
}

napi_value CreateFn(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  int32_t* st;
  size_t nst;
  int32_t threads = 1;
  if (argc < 5 || !typed(env, a[0], napi_int32_array, &st, &nst) || nst == 0 || nst % NF != 0 || napi_get_value_int32(env, a[4], &threads) != napi_ok) {
    napi_throw_type_error(env, nullptr, "floatNetCreate(stages Int32Array, weights Float32Array[], sgn Float32Array[], st Float32Array[], threads)");
    return nullptr;
  }
  if (threads < 1 || threads > 256) return throwError(env, "floatNetCreate: threads must be 1..256"), nullptr;
  auto F = std::make_unique<FloatNet>();
  F->threads = threads;
  const size_t ns = nst / NF;
  for (size_t i = 0; i < ns; i++) {
    StageDef D;
    std::memcpy(D.f, st + i * NF, sizeof D.f);
    const std::string who = "floatNetCreate: stage " + std::to_string(i) + ": ";
    if (!floatsAt(env, a[1], i, &D.w) || D.w.size() != static_cast<size_t>(D.f[fOutC]) * D.f[fKh] * D.f[fKw] * D.f[fInC])
      return throwError(env, who + "weights missing or of the wrong size"), nullptr;
    if (!D.f[fFinal] && (!floatsAt(env, a[2], i, &D.sg) || !floatsAt(env, a[3], i, &D.st) || D.sg.size() != static_cast<size_t>(D.f[fOutC]) ||
                         D.st.size() != static_cast<size_t>(D.f[fOutC])))
      return throwError(env, who + "thresholds missing or of the wrong size"), nullptr;
    if (D.f[fFinal] != (i + 1 == ns)) return throwError(env, who + "only the last stage may (and must) be final"), nullptr;
    if (i > 0) {
      const int32_t* p = F->defs.back().f;
      if (p[fOutH] != D.f[fInH] || p[fOutW] != D.f[fInW] || p[fOutC] != D.f[fInC]) return throwError(env, who + "input does not match the previous output"), nullptr;
    }
    F->defs.push_back(std::move(D));
  }
  try {
    Threads th(threads);
    netFor(*F, 1);  // oneDNN rejects a geometry here, not at the first run
  } catch (const dnnl::error& e) {
    return throwError(env, std::string("floatNetCreate: oneDNN: ") + e.what()), nullptr;
  }
  auto h = new Handle{std::move(F)};
  napi_value ext;
  napi_create_external(env, h, [](napi_env, void* p, void*) { delete static_cast<Handle*>(p); }, nullptr, &ext);
  return ext;
}

napi_value RunFn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Handle* h = argc >= 4 ? handleOf(env, a[0]) : nullptr;
  float *x, *out;
  size_t nx, nout;
  int32_t n = 0;
  if (!h || !typed(env, a[1], napi_float32_array, &x, &nx) || napi_get_value_int32(env, a[2], &n) != napi_ok ||
      !typed(env, a[3], napi_float32_array, &out, &nout)) {
    napi_throw_type_error(env, nullptr, "floatNetRun(handle, images Float32Array, n, out Float32Array)");
    return nullptr;
  }
  if (!h->f) return throwError(env, "floatNetRun: the network was freed"), nullptr;
  const int32_t* f0 = h->f->defs.front().f;
  const int32_t* fl = h->f->defs.back().f;
  if (n < 1 || nx < static_cast<size_t>(n) * f0[fInH] * f0[fInW] * f0[fInC] || nout < static_cast<size_t>(n) * fl[fOutH] * fl[fOutW] * fl[fOutC])
    return throwError(env, "floatNetRun: images or out too small for " + std::to_string(n) + " images"), nullptr;
  try {
    run(*h->f, x, n, out);
  } catch (const dnnl::error& e) {
    return throwError(env, std::string("floatNetRun: oneDNN: ") + e.what()), nullptr;
  }
  return nullptr;
}

napi_value InfoFn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Handle* h = argc >= 1 ? handleOf(env, a[0]) : nullptr;
  napi_value arr;
  napi_create_array(env, &arr);
  if (h && h->f)
    for (size_t i = 0; i < h->f->impls.size(); i++) {
      napi_value s;
      napi_create_string_utf8(env, h->f->impls[i].c_str(), NAPI_AUTO_LENGTH, &s);
      napi_set_element(env, arr, i, s);
    }
  return arr;
}

napi_value FreeFn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  Handle* h = argc >= 1 ? handleOf(env, a[0]) : nullptr;
  if (h) h->f.reset();
  return nullptr;
}

}  // namespace

void registerFloatNet(napi_env env, napi_value exports) {
  const struct { const char* name; napi_callback fn; } fns[] = {
      {"floatNetCreate", CreateFn}, {"floatNetRun", RunFn}, {"floatNetInfo", InfoFn}, {"floatNetFree", FreeFn},
  };
  for (const auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
}
