// One BPF ELF object: open -> configure (globals, autoload, targets, instructions) -> load -> attach.
#pragma once
#include <napi.h>

#include <set>
#include <vector>

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;

namespace rt {

class Link;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

  void AddLink(Link* l) { links_.insert(l); }
  void RemoveLink(Link* l) { links_.erase(l); }

 private:
  friend void InitObject(Napi::Env env, Napi::Object exports);

  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value DatasecVars(const Napi::CallbackInfo& info);
  Napi::Value GetInitialValue(const Napi::CallbackInfo& info);
  Napi::Value SetInitialValue(const Napi::CallbackInfo& info);
  Napi::Value SetAutoload(const Napi::CallbackInfo& info);
  Napi::Value SetAttachTarget(const Napi::CallbackInfo& info);
  Napi::Value Instructions(const Napi::CallbackInfo& info);
  Napi::Value SetInstructions(const Napi::CallbackInfo& info);
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value ReuseMapFd(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value ProgramFd(const Napi::CallbackInfo& info);
  Napi::Value MapFd(const Napi::CallbackInfo& info);
  Napi::Value AttachAuto(const Napi::CallbackInfo& info);
  Napi::Value AttachTrace(const Napi::CallbackInfo& info);
  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachKprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachKprobeMulti(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachUsdt(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void DoClose();
  bool Usable(Napi::Env env);
  bpf_program* Prog(const Napi::CallbackInfo& info, size_t i = 0);
  bpf_map* Map(const Napi::CallbackInfo& info, size_t i = 0);
  Napi::Value Wrap(const Napi::CallbackInfo& info, bpf_link* link, const char* what);

  bpf_object* obj_ = nullptr;
  std::vector<char> image_;  // libbpf may refer to the ELF image until load
  std::set<Link*> links_;
  bool loaded_ = false;
};

}  // namespace rt
