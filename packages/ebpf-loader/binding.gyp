{
  "targets": [
    {
      "target_name": "ebpf_loader",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/object.cc",
        "native/link.cc",
        "native/ringbuf.cc",
        "native/maps.cc",
        "native/btf.cc",
        "native/pcap.cc",
        "native/splice.cc",
        "native/netlink.cc",
        "native/clock.cc",
        "native/formatter.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
      "libraries": ["-lbpf", "-lpcap", "-lelf", "-lz"]
    }
  ]
}
