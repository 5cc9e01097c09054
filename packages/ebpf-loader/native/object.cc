#include "object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "errors.h"
#include "link.h"

namespace rt {

namespace {

// The kernel gained a cookie for raw tracepoint links (6.10) before libbpf 1.1 could pass it,
// so this one attach goes through the syscall directly.
struct RawTpOpenAttr {
  uint64_t name;
  uint32_t prog_fd;
  uint32_t pad;
  uint64_t cookie;
};

int RawTracepointOpenWithCookie(const char* name, int progFd, uint64_t cookie) {
  union {
    RawTpOpenAttr raw;
    char bytes[128];
  } attr;
  memset(&attr, 0, sizeof(attr));
  attr.raw.name = reinterpret_cast<uint64_t>(name);
  attr.raw.prog_fd = static_cast<uint32_t>(progFd);
  attr.raw.cookie = cookie;
  int fd = static_cast<int>(syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(RawTpOpenAttr)));
  return fd < 0 ? -errno : fd;
}

}  // namespace

BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  std::string name;
  if (info.Length() > 1 && info[1].IsString()) name = info[1].As<Napi::String>().Utf8Value();
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name.empty() ? nullptr : name.c_str());
  ResetLibbpfLog();
  if (info.Length() > 0 && info[0].IsBuffer()) {
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    image_.assign(reinterpret_cast<char*>(buf.Data()), reinterpret_cast<char*>(buf.Data()) + buf.Length());
    obj_ = bpf_object__open_mem(image_.data(), image_.size(), &opts);
  } else if (info.Length() > 0 && info[0].IsString()) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    obj_ = bpf_object__open_file(path.c_str(), &opts);
  } else {
    ThrowType(env, "BpfObject needs a file path or a Buffer holding an ELF object");
    return;
  }
  if (!obj_) ThrowErrno(env, "opening BPF object failed", errno);
}

BpfObject::~BpfObject() { DoClose(); }

void BpfObject::DoClose() {
  // Copy: Destroy() removes the link from links_.
  std::set<Link*> links = links_;
  for (Link* l : links) l->Destroy();
  links_.clear();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
}

bool BpfObject::Usable(Napi::Env env) {
  if (obj_) return true;
  Napi::Error::New(env, "the BPF object is closed").ThrowAsJavaScriptException();
  return false;
}

bpf_program* BpfObject::Prog(const Napi::CallbackInfo& info, size_t i) {
  std::string name;
  if (!Usable(info.Env()) || !ArgString(info, i, &name, "program name")) return nullptr;
  bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
  if (!p) {
    Napi::Error e = Napi::Error::New(info.Env(), "no program named '" + name + "' in this object");
    e.Set("code", Napi::String::New(info.Env(), "ENOENT"));
    e.ThrowAsJavaScriptException();
  }
  return p;
}

bpf_map* BpfObject::Map(const Napi::CallbackInfo& info, size_t i) {
  std::string name;
  if (!Usable(info.Env()) || !ArgString(info, i, &name, "map name")) return nullptr;
  bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!m) {
    Napi::Error e = Napi::Error::New(info.Env(), "no map named '" + name + "' in this object");
    e.Set("code", Napi::String::New(info.Env(), "ENOENT"));
    e.ThrowAsJavaScriptException();
  }
  return m;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_program* p;
  bpf_object__for_each_program(p, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("type", static_cast<double>(bpf_program__type(p)));
    o.Set("autoload", bpf_program__autoload(p));
    o.Set("insnCount", static_cast<double>(bpf_program__insn_cnt(p)));
    o.Set("fd", static_cast<double>(loaded_ ? bpf_program__fd(p) : -1));
    out.Set(i++, o);
  }
  return out;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(m));
    o.Set("type", static_cast<double>(bpf_map__type(m)));
    o.Set("keySize", static_cast<double>(bpf_map__key_size(m)));
    o.Set("valueSize", static_cast<double>(bpf_map__value_size(m)));
    o.Set("maxEntries", static_cast<double>(bpf_map__max_entries(m)));
    o.Set("internal", bpf_map__is_internal(m));
    o.Set("fd", static_cast<double>(loaded_ ? bpf_map__fd(m) : -1));
    out.Set(i++, o);
  }
  return out;
}

// Every variable of every data section (.rodata, .data, .bss, custom .rodata.*) with the
// internal map that backs it, so TypeScript can set `const volatile` globals by name.
Napi::Value BpfObject::DatasecVars(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  const struct btf* btf = bpf_object__btf(obj_);
  if (!btf) return out;
  uint32_t n = 0;
  for (uint32_t id = 1; id < btf__type_cnt(btf); id++) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (!btf_is_datasec(t)) continue;
    const char* sec = btf__name_by_offset(btf, t->name_off);
    std::string mapName;
    bpf_map* m;
    bpf_object__for_each_map(m, obj_) {
      if (!bpf_map__is_internal(m)) continue;
      std::string mn = bpf_map__name(m);
      if (mn.size() >= strlen(sec) && mn.compare(mn.size() - strlen(sec), std::string::npos, sec) == 0) mapName = mn;
    }
    const struct btf_var_secinfo* vs = btf_var_secinfos(t);
    for (uint16_t k = 0; k < btf_vlen(t); k++, vs++) {
      const struct btf_type* var = btf__type_by_id(btf, vs->type);
      Napi::Object o = Napi::Object::New(env);
      o.Set("section", sec);
      o.Set("map", mapName);
      o.Set("name", btf__name_by_offset(btf, var->name_off));
      o.Set("offset", static_cast<double>(vs->offset));
      o.Set("size", static_cast<double>(vs->size));
      out.Set(n++, o);
    }
  }
  return out;
}

Napi::Value BpfObject::GetInitialValue(const Napi::CallbackInfo& info) {
  bpf_map* m = Map(info);
  if (!m) return info.Env().Undefined();
  size_t size = 0;
  const void* v = bpf_map__initial_value(m, &size);
  if (!v) return ThrowErrno(info.Env(), std::string("map '") + bpf_map__name(m) + "' has no initial value", EINVAL);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<const uint8_t*>(v), size);
}

Napi::Value BpfObject::SetInitialValue(const Napi::CallbackInfo& info) {
  bpf_map* m = Map(info);
  Napi::Buffer<uint8_t> buf;
  if (!m || !ArgBuffer(info, 1, &buf, "value")) return info.Env().Undefined();
  ResetLibbpfLog();
  int err = bpf_map__set_initial_value(m, buf.Data(), buf.Length());
  if (err) return ThrowErrno(info.Env(), std::string("setting the initial value of map '") + bpf_map__name(m) + "'", err);
  return info.Env().Undefined();
}

Napi::Value BpfObject::SetAutoload(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  if (!p) return info.Env().Undefined();
  int err = bpf_program__set_autoload(p, info.Length() > 1 && info[1].ToBoolean().Value());
  if (err) return ThrowErrno(info.Env(), "setting autoload (only possible before load)", err);
  return info.Env().Undefined();
}

Napi::Value BpfObject::SetAttachTarget(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  std::string target;
  if (!p || !ArgString(info, 1, &target, "attach target")) return info.Env().Undefined();
  ResetLibbpfLog();
  int err = bpf_program__set_attach_target(p, 0, target.c_str());
  if (err) return ThrowErrno(info.Env(), "setting attach target '" + target + "'", err);
  return info.Env().Undefined();
}

Napi::Value BpfObject::Instructions(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  if (!p) return info.Env().Undefined();
  const struct bpf_insn* insns = bpf_program__insns(p);
  size_t cnt = bpf_program__insn_cnt(p);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<const uint8_t*>(insns), cnt * sizeof(struct bpf_insn));
}

Napi::Value BpfObject::SetInstructions(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  Napi::Buffer<uint8_t> buf;
  if (!p || !ArgBuffer(info, 1, &buf, "instructions")) return info.Env().Undefined();
  if (buf.Length() == 0 || buf.Length() % sizeof(struct bpf_insn) != 0)
    return ThrowType(info.Env(), "instructions must be a non-empty multiple of 8 bytes");
  ResetLibbpfLog();
  int err = bpf_program__set_insns(p, reinterpret_cast<struct bpf_insn*>(buf.Data()), buf.Length() / sizeof(struct bpf_insn));
  if (err) return ThrowErrno(info.Env(), "replacing instructions (only possible before load)", err);
  return info.Env().Undefined();
}

Napi::Value BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  bpf_map* m = Map(info);
  uint32_t n;
  if (!m || !ArgU32(info, 1, &n, "max entries")) return info.Env().Undefined();
  int err = bpf_map__set_max_entries(m, n);
  if (err) return ThrowErrno(info.Env(), "setting max entries (only possible before load)", err);
  return info.Env().Undefined();
}

// Makes this object use an existing map (e.g. the ring buffer of another object) instead of
// creating its own; before load.
Napi::Value BpfObject::ReuseMapFd(const Napi::CallbackInfo& info) {
  bpf_map* m = Map(info);
  uint32_t fd;
  if (!m || !ArgU32(info, 1, &fd, "map fd")) return info.Env().Undefined();
  ResetLibbpfLog();
  int err = bpf_map__reuse_fd(m, static_cast<int>(fd));
  if (err) return ThrowErrno(info.Env(), std::string("reusing map fd for '") + bpf_map__name(m) + "'", err);
  return info.Env().Undefined();
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  ResetLibbpfLog();
  int err = bpf_object__load(obj_);
  if (err) return ThrowErrno(env, "loading BPF object failed", err);
  TakeLibbpfLog();
  loaded_ = true;
  return env.Undefined();
}

Napi::Value BpfObject::ProgramFd(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  if (!p) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), bpf_program__fd(p));
}

Napi::Value BpfObject::MapFd(const Napi::CallbackInfo& info) {
  bpf_map* m = Map(info);
  if (!m) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), bpf_map__fd(m));
}

Napi::Value BpfObject::Wrap(const Napi::CallbackInfo& info, bpf_link* link, const char* what) {
  if (!link) return ThrowErrno(info.Env(), what, errno);
  TakeLibbpfLog();
  return Link::Create(info.Env(), Value(), this, link, -1);
}

Napi::Value BpfObject::AttachAuto(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  if (!p) return info.Env().Undefined();
  ResetLibbpfLog();
  return Wrap(info, bpf_program__attach(p), "attaching program by its section name");
}

Napi::Value BpfObject::AttachTrace(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  if (!p) return info.Env().Undefined();
  ResetLibbpfLog();
  return Wrap(info, bpf_program__attach_trace(p), "attaching BTF tracing program");
}

Napi::Value BpfObject::AttachRawTracepoint(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  std::string tp;
  uint64_t cookie = 0;
  if (!p || !ArgString(info, 1, &tp, "tracepoint") || !ArgU64(info, 2, &cookie, "cookie")) return info.Env().Undefined();
  ResetLibbpfLog();
  if (cookie == 0) return Wrap(info, bpf_program__attach_raw_tracepoint(p, tp.c_str()), ("attaching raw tracepoint " + tp).c_str());
  int fd = RawTracepointOpenWithCookie(tp.c_str(), bpf_program__fd(p), cookie);
  if (fd < 0) return ThrowErrno(info.Env(), "attaching raw tracepoint " + tp + " with a cookie", fd);
  return Link::Create(info.Env(), Value(), this, nullptr, fd);
}

Napi::Value BpfObject::AttachKprobe(const Napi::CallbackInfo& info) {
  bpf_program* p = Prog(info);
  std::string func;
  uint64_t offset = 0, cookie = 0;
  if (!p || !ArgString(info, 1, &func, "function") || !ArgU64(info, 3, &offset, "offset") || !ArgU64(info, 4, &cookie, "cookie"))
    return info.Env().Undefined();
  bool ret = info[2].ToBoolean().Value();
  LIBBPF_OPTS(bpf_kprobe_opts, opts, .bpf_cookie = cookie, .offset = static_cast<size_t>(offset), .retprobe = ret);
  ResetLibbpfLog();
  return Wrap(info, bpf_program__attach_kprobe_opts(p, func.c_str(), &opts),
              ((ret ? "attaching kretprobe " : "attaching kprobe ") + func).c_str());
}

Napi::Value BpfObject::AttachKprobeMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_program* p = Prog(info);
  if (!p) return env.Undefined();
  std::string pattern;
  std::vector<std::string> syms;
  std::vector<const char*> symPtrs;
  std::vector<__u64> cookies;
  if (info[1].IsString()) {
    pattern = info[1].As<Napi::String>().Utf8Value();
  } else if (info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) syms.push_back(a.Get(i).ToString().Utf8Value());
    for (auto& s : syms) symPtrs.push_back(s.c_str());
  } else {
    return ThrowType(env, "kprobe-multi needs a pattern string or an array of symbols");
  }
  bool ret = info[2].ToBoolean().Value();
  if (info.Length() > 3 && info[3].IsArray()) {
    Napi::Array a = info[3].As<Napi::Array>();
    if (a.Length() != syms.size()) return ThrowType(env, "cookies must match the symbols one to one");
    for (uint32_t i = 0; i < a.Length(); i++) {
      bool lossless;
      cookies.push_back(a.Get(i).As<Napi::BigInt>().Uint64Value(&lossless));
    }
  }
  LIBBPF_OPTS(bpf_kprobe_multi_opts, opts, .syms = symPtrs.empty() ? nullptr : symPtrs.data(),
              .cookies = cookies.empty() ? nullptr : cookies.data(), .cnt = symPtrs.size(), .retprobe = ret);
  ResetLibbpfLog();
  return Wrap(info, bpf_program__attach_kprobe_multi_opts(p, pattern.empty() ? nullptr : pattern.c_str(), &opts),
              "attaching kprobe-multi");
}

Napi::Value BpfObject::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_program* p = Prog(info);
  std::string binary, func;
  uint64_t offset = 0, cookie = 0;
  if (!p || !ArgString(info, 2, &binary, "binary") || !ArgU64(info, 4, &offset, "offset") || !ArgU64(info, 6, &cookie, "cookie"))
    return env.Undefined();
  int pid = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
  if (info[3].IsString()) func = info[3].As<Napi::String>().Utf8Value();
  bool ret = info[5].ToBoolean().Value();
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie, .retprobe = ret, .func_name = func.empty() ? nullptr : func.c_str());
  ResetLibbpfLog();
  return Wrap(info, bpf_program__attach_uprobe_opts(p, pid, binary.c_str(), static_cast<size_t>(offset), &opts),
              ("attaching uprobe to " + binary + (func.empty() ? "" : ":" + func)).c_str());
}

Napi::Value BpfObject::AttachUsdt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_program* p = Prog(info);
  std::string binary, provider, name;
  uint64_t cookie = 0;
  if (!p || !ArgString(info, 2, &binary, "binary") || !ArgString(info, 3, &provider, "provider") ||
      !ArgString(info, 4, &name, "probe name") || !ArgU64(info, 5, &cookie, "cookie"))
    return env.Undefined();
  int pid = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
  LIBBPF_OPTS(bpf_usdt_opts, opts, .usdt_cookie = cookie);
  ResetLibbpfLog();
  return Wrap(info, bpf_program__attach_usdt(p, pid, binary.c_str(), provider.c_str(), name.c_str(), &opts),
              ("attaching USDT " + provider + ":" + name + " in " + binary).c_str());
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  DoClose();
  return info.Env().Undefined();
}

void InitObject(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = BpfObject::DefineClass(
      env, "BpfObject",
      {
          BpfObject::InstanceMethod<&BpfObject::Programs>("programs"),
          BpfObject::InstanceMethod<&BpfObject::Maps>("maps"),
          BpfObject::InstanceMethod<&BpfObject::DatasecVars>("datasecVars"),
          BpfObject::InstanceMethod<&BpfObject::GetInitialValue>("getInitialValue"),
          BpfObject::InstanceMethod<&BpfObject::SetInitialValue>("setInitialValue"),
          BpfObject::InstanceMethod<&BpfObject::SetAutoload>("setAutoload"),
          BpfObject::InstanceMethod<&BpfObject::SetAttachTarget>("setAttachTarget"),
          BpfObject::InstanceMethod<&BpfObject::Instructions>("instructions"),
          BpfObject::InstanceMethod<&BpfObject::SetInstructions>("setInstructions"),
          BpfObject::InstanceMethod<&BpfObject::SetMaxEntries>("setMaxEntries"),
          BpfObject::InstanceMethod<&BpfObject::ReuseMapFd>("reuseMapFd"),
          BpfObject::InstanceMethod<&BpfObject::Load>("load"),
          BpfObject::InstanceMethod<&BpfObject::ProgramFd>("programFd"),
          BpfObject::InstanceMethod<&BpfObject::MapFd>("mapFd"),
          BpfObject::InstanceMethod<&BpfObject::AttachAuto>("attachAuto"),
          BpfObject::InstanceMethod<&BpfObject::AttachTrace>("attachTrace"),
          BpfObject::InstanceMethod<&BpfObject::AttachRawTracepoint>("attachRawTracepoint"),
          BpfObject::InstanceMethod<&BpfObject::AttachKprobe>("attachKprobe"),
          BpfObject::InstanceMethod<&BpfObject::AttachKprobeMulti>("attachKprobeMulti"),
          BpfObject::InstanceMethod<&BpfObject::AttachUprobe>("attachUprobe"),
          BpfObject::InstanceMethod<&BpfObject::AttachUsdt>("attachUsdt"),
          BpfObject::InstanceMethod<&BpfObject::Close>("close"),
      });
  exports.Set("BpfObject", ctor);
}

}  // namespace rt
