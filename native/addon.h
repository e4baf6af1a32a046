// Entry points the addon's other sources add to its exports (bnn_native.cc's module init calls them).
#pragma once
#include <node_api.h>

// packed.cc: the packed XNOR-popcount inference engine, the popcount throughput probe and the CPU's features.
void registerPacked(napi_env env, napi_value exports);
// float_net.cc: the float32 oneDNN network (the float baseline of packed inference).
void registerFloatNet(napi_env env, napi_value exports);
