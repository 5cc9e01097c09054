// Entry point of the ebpf-loader addon: a thin layer over libbpf and libpcap.
#include <bpf/libbpf.h>
#include <napi.h>

#include "addon.h"
#include "errors.h"

namespace rt {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  InstallLibbpfPrinter();
  InitObject(env, exports);
  InitLink(env, exports);
  InitRingBuffer(env, exports);
  InitMaps(env, exports);
  InitBtf(env, exports);
  InitPcap(env, exports);
  InitSplice(env, exports);
  InitNetlink(env, exports);
  InitClock(env, exports);
  InitFormatter(env, exports);
  return exports;
}

}  // namespace rt

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return rt::Init(env, exports); }

NODE_API_MODULE(ebpf_loader, InitAddon)
