// An attachment of a program. Destroyed on close(), on garbage collection, or with the
// process (nothing is pinned), so a crash cannot leave it behind.
#pragma once
#include <napi.h>

struct bpf_link;

namespace rt {

class BpfObject;

class Link : public Napi::ObjectWrap<Link> {
 public:
  explicit Link(const Napi::CallbackInfo& info);
  ~Link() override;

  // Wraps a libbpf link (or a raw link fd when libbpf has no API for the attach kind).
  static Napi::Value Create(Napi::Env env, Napi::Object owner, BpfObject* ownerPtr, bpf_link* link, int rawFd);
  // Called by the owning object when it closes first (USDT links point into its state).
  void Destroy();

 private:
  friend void InitLink(Napi::Env env, Napi::Object exports);

  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  int LinkFd() const;

  bpf_link* link_ = nullptr;
  int rawFd_ = -1;
  BpfObject* owner_ = nullptr;
  Napi::ObjectReference ownerRef_;
};

}  // namespace rt
