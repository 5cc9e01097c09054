// libpcap's filter compiler: tcpdump expression -> classic BPF, exactly as tcpdump builds it.
#include <napi.h>
#include <pcap/pcap.h>

#include "addon.h"
#include "errors.h"

namespace rt {

namespace {

// pcapCompile(linktype, snaplen, expression, optimize, netmask) -> Buffer of struct bpf_insn
Napi::Value PcapCompile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t linktype, snaplen, netmask;
  std::string expr;
  if (!ArgU32(info, 0, &linktype, "link type") || !ArgU32(info, 1, &snaplen, "snap length") ||
      !ArgString(info, 2, &expr, "filter expression") || !ArgU32(info, 4, &netmask, "netmask"))
    return env.Undefined();
  bool optimize = info[3].ToBoolean().Value();
  pcap_t* p = pcap_open_dead(static_cast<int>(linktype), static_cast<int>(snaplen));
  if (!p) return ThrowType(env, "libpcap does not know link type " + std::to_string(linktype));
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr.c_str(), optimize ? 1 : 0, netmask) != 0) {
    Napi::Error e = Napi::Error::New(env, pcap_geterr(p));
    e.Set("code", Napi::String::New(env, "EPCAP"));
    pcap_close(p);
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> out =
      Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(prog.bf_insns), prog.bf_len * sizeof(struct bpf_insn));
  pcap_freecode(&prog);
  pcap_close(p);
  return out;
}

Napi::Value DatalinkNameToVal(const Napi::CallbackInfo& info) {
  std::string name;
  if (!ArgString(info, 0, &name, "link type name")) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), pcap_datalink_name_to_val(name.c_str()));
}

Napi::Value LibVersion(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), pcap_lib_version()); }

}  // namespace

void InitPcap(Napi::Env env, Napi::Object exports) {
  exports.Set("pcapCompile", Napi::Function::New<PcapCompile>(env, "pcapCompile"));
  exports.Set("pcapDatalinkNameToVal", Napi::Function::New<DatalinkNameToVal>(env, "pcapDatalinkNameToVal"));
  exports.Set("pcapLibVersion", Napi::Function::New<LibVersion>(env, "pcapLibVersion"));
}

}  // namespace rt
