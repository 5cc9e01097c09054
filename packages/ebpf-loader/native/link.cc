#include "link.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"
#include "errors.h"
#include "object.h"

namespace rt {

Link::Link(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Link>(info) {}

Link::~Link() { Destroy(); }

Napi::Value Link::Create(Napi::Env env, Napi::Object owner, BpfObject* ownerPtr, bpf_link* link, int rawFd) {
  Napi::Object obj = Data(env)->linkCtor.New({});
  Link* l = Link::Unwrap(obj);
  l->link_ = link;
  l->rawFd_ = rawFd;
  l->owner_ = ownerPtr;
  l->ownerRef_ = Napi::Persistent(owner);  // keeps the object alive while the link is
  ownerPtr->AddLink(l);
  return obj;
}

void Link::Destroy() {
  if (link_) bpf_link__destroy(link_);
  if (rawFd_ >= 0) close(rawFd_);
  link_ = nullptr;
  rawFd_ = -1;
  if (owner_) owner_->RemoveLink(this);
  owner_ = nullptr;
  if (!ownerRef_.IsEmpty()) ownerRef_.Reset();
}

int Link::LinkFd() const { return link_ ? bpf_link__fd(link_) : rawFd_; }

Napi::Value Link::Close(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

Napi::Value Link::Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LinkFd()); }

// Kernel view of the link; composite links (USDT over several uprobes) have no fd of their own.
Napi::Value Link::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = LinkFd();
  if (fd < 0) return env.Null();
  struct bpf_link_info li;
  memset(&li, 0, sizeof(li));
  uint32_t len = sizeof(li);
  int err = bpf_obj_get_info_by_fd(fd, &li, &len);
  if (err) return ThrowErrno(env, "reading link info", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(li.id));
  o.Set("progId", static_cast<double>(li.prog_id));
  o.Set("type", static_cast<double>(li.type));
  return o;
}

void InitLink(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Link::DefineClass(env, "Link",
                                          {
                                              Link::InstanceMethod<&Link::Close>("close"),
                                              Link::InstanceMethod<&Link::Fd>("fd"),
                                              Link::InstanceMethod<&Link::Info>("info"),
                                          });
  Data(env)->linkCtor = Napi::Persistent(ctor);
  exports.Set("Link", ctor);
}

}  // namespace rt
