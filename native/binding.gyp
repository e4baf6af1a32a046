{
  "targets": [
    {
      "target_name": "bnn_native",
      "sources": ["bnn_native.cc", "packed.cc", "float_net.cc"],
      "libraries": ["-ldnnl", "-lgomp"],
      "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    }
  ]
}
