// Read-only view of kernel (vmlinux or module) or file BTF: raw type records for
// TypeScript to interpret, plus C declarations rendered by libbpf's btf_dump.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <napi.h>
#include <stdarg.h>
#include <stdio.h>

#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace rt {

class Btf : public Napi::ObjectWrap<Btf> {
 public:
  // new Btf('vmlinux') | new Btf('module', name) | new Btf('file', path)
  explicit Btf(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Btf>(info) {
    Napi::Env env = info.Env();
    std::string source, arg;
    if (!ArgString(info, 0, &source, "BTF source")) return;
    if (source != "vmlinux" && !ArgString(info, 1, &arg, "BTF module name or path")) return;
    ResetLibbpfLog();
    if (source == "vmlinux") {
      btf_ = btf__load_vmlinux_btf();
      if (!btf_) ThrowErrno(env, "loading vmlinux BTF (is /sys/kernel/btf/vmlinux present?)", errno);
    } else if (source == "module") {
      base_ = btf__load_vmlinux_btf();
      if (!base_) {
        ThrowErrno(env, "loading vmlinux BTF as the base of module " + arg, errno);
        return;
      }
      btf_ = btf__load_module_btf(arg.c_str(), base_);
      if (!btf_) ThrowErrno(env, "loading BTF of module " + arg + " (is the module loaded?)", errno);
      firstId_ = btf__type_cnt(base_);
    } else if (source == "file") {
      btf_ = btf__parse(arg.c_str(), nullptr);
      if (!btf_) ThrowErrno(env, "parsing BTF from " + arg, errno);
    } else {
      ThrowType(env, "BTF source must be 'vmlinux', 'module' or 'file'");
    }
  }

  ~Btf() override { Free(); }

 private:
  void Free() {
    if (dump_) btf_dump__free(dump_);
    if (btf_) btf__free(btf_);
    if (base_) btf__free(base_);
    dump_ = nullptr;
    btf_ = base_ = nullptr;
  }

  bool Usable(Napi::Env env) {
    if (btf_) return true;
    Napi::Error::New(env, "the BTF handle is closed").ThrowAsJavaScriptException();
    return false;
  }

  const char* Name(uint32_t off) { return btf__name_by_offset(btf_, off); }

  Napi::Value TypeCount(const Napi::CallbackInfo& info) {
    if (!Usable(info.Env())) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), btf__type_cnt(btf_));
  }

  Napi::Value FirstId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), firstId_); }

  Napi::Value FindByName(const Napi::CallbackInfo& info) {
    std::string name;
    uint32_t kind;
    if (!Usable(info.Env()) || !ArgString(info, 0, &name, "type name") || !ArgU32(info, 1, &kind, "kind")) return info.Env().Undefined();
    int id = btf__find_by_name_kind(btf_, name.c_str(), kind);
    return Napi::Number::New(info.Env(), id < 0 ? -1 : id);
  }

  // Every named type of one kind, base types included for split BTF, in id order: { names, ids }.
  // One pass, so that JS can index names instead of calling FindByName (a linear scan) per name.
  Napi::Value TypesOfKind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t kind;
    if (!Usable(env) || !ArgU32(info, 0, &kind, "kind")) return env.Undefined();
    Napi::Array names = Napi::Array::New(env);
    std::vector<uint32_t> ids;
    for (uint32_t id = 1; id < btf__type_cnt(btf_); id++) {
      const struct btf_type* t = btf__type_by_id(btf_, id);
      if (btf_kind(t) != kind || !t->name_off) continue;
      names.Set(static_cast<uint32_t>(ids.size()), Name(t->name_off));
      ids.push_back(id);
    }
    Napi::Uint32Array idArray = Napi::Uint32Array::New(env, ids.size());
    for (size_t i = 0; i < ids.size(); i++) idArray[i] = ids[i];
    Napi::Object out = Napi::Object::New(env);
    out.Set("names", names);
    out.Set("ids", idArray);
    return out;
  }

  // Names of every type of one kind (own types only for split module BTF), for wildcard matching.
  Napi::Value NamesOfKind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t kind;
    if (!Usable(env) || !ArgU32(info, 0, &kind, "kind")) return env.Undefined();
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    for (uint32_t id = firstId_ ? firstId_ : 1; id < btf__type_cnt(btf_); id++) {
      const struct btf_type* t = btf__type_by_id(btf_, id);
      if (btf_kind(t) == kind && t->name_off) out.Set(n++, Name(t->name_off));
    }
    return out;
  }

  Napi::Value Type(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (!Usable(env) || !ArgU32(info, 0, &id, "type id")) return env.Undefined();
    const struct btf_type* t = btf__type_by_id(btf_, id);
    if (!t) return ThrowErrno(env, "no BTF type with id " + std::to_string(id), ENOENT);
    Napi::Object o = Napi::Object::New(env);
    uint16_t vlen = btf_vlen(t);
    o.Set("id", static_cast<double>(id));
    o.Set("kind", static_cast<double>(btf_kind(t)));
    o.Set("name", Name(t->name_off));
    o.Set("vlen", static_cast<double>(vlen));
    switch (btf_kind(t)) {
      case BTF_KIND_INT:
        o.Set("size", static_cast<double>(t->size));
        o.Set("bits", static_cast<double>(btf_int_bits(t)));
        o.Set("signed", (btf_int_encoding(t) & BTF_INT_SIGNED) != 0);
        break;
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        o.Set("size", static_cast<double>(t->size));
        Napi::Array ms = Napi::Array::New(env, vlen);
        const struct btf_member* m = btf_members(t);
        for (uint16_t i = 0; i < vlen; i++, m++) {
          Napi::Object mo = Napi::Object::New(env);
          mo.Set("name", Name(m->name_off));
          mo.Set("type", static_cast<double>(m->type));
          mo.Set("bitOffset", static_cast<double>(btf_member_bit_offset(t, i)));
          mo.Set("bitSize", static_cast<double>(btf_member_bitfield_size(t, i)));
          ms.Set(i, mo);
        }
        o.Set("members", ms);
        break;
      }
      case BTF_KIND_ENUM: {
        o.Set("size", static_cast<double>(t->size));
        Napi::Array vs = Napi::Array::New(env, vlen);
        const struct btf_enum* e = btf_enum(t);
        bool sign = btf_kflag(t);
        for (uint16_t i = 0; i < vlen; i++, e++) {
          Napi::Object vo = Napi::Object::New(env);
          vo.Set("name", Name(e->name_off));
          vo.Set("value", sign ? static_cast<double>(e->val) : static_cast<double>(static_cast<uint32_t>(e->val)));
          vs.Set(i, vo);
        }
        o.Set("values", vs);
        break;
      }
      case BTF_KIND_ENUM64: {
        o.Set("size", static_cast<double>(t->size));
        Napi::Array vs = Napi::Array::New(env, vlen);
        const struct btf_enum64* e = btf_enum64(t);
        for (uint16_t i = 0; i < vlen; i++, e++) {
          Napi::Object vo = Napi::Object::New(env);
          vo.Set("name", Name(e->name_off));
          vo.Set("value", Napi::BigInt::New(env, static_cast<uint64_t>(btf_enum64_value(e))));
          vs.Set(i, vo);
        }
        o.Set("values", vs);
        break;
      }
      case BTF_KIND_ARRAY: {
        const struct btf_array* a = btf_array(t);
        o.Set("type", static_cast<double>(a->type));
        o.Set("indexType", static_cast<double>(a->index_type));
        o.Set("nelems", static_cast<double>(a->nelems));
        break;
      }
      case BTF_KIND_FUNC_PROTO: {
        o.Set("type", static_cast<double>(t->type));
        Napi::Array ps = Napi::Array::New(env, vlen);
        const struct btf_param* p = btf_params(t);
        for (uint16_t i = 0; i < vlen; i++, p++) {
          Napi::Object po = Napi::Object::New(env);
          po.Set("name", Name(p->name_off));
          po.Set("type", static_cast<double>(p->type));
          ps.Set(i, po);
        }
        o.Set("params", ps);
        break;
      }
      case BTF_KIND_FUNC:
      case BTF_KIND_VAR:
        o.Set("type", static_cast<double>(t->type));
        o.Set("linkage", static_cast<double>(btf_kind(t) == BTF_KIND_FUNC ? vlen : btf_var(t)->linkage));
        break;
      case BTF_KIND_FWD:
        o.Set("union", btf_kflag(t));
        break;
      case BTF_KIND_DATASEC:
      case BTF_KIND_FLOAT:
        o.Set("size", static_cast<double>(t->size));
        break;
      default:  // PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG, DECL_TAG
        o.Set("type", static_cast<double>(t->type));
        break;
    }
    return o;
  }

  static void DumpPrintf(void* ctx, const char* fmt, va_list args) { *static_cast<std::string*>(ctx) += VFormat(fmt, args); }

  // C declaration of a type, e.g. decl(id of `struct sk_buff *`, "skb") -> "struct sk_buff *skb".
  Napi::Value Decl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (!Usable(env) || !ArgU32(info, 0, &id, "type id")) return env.Undefined();
    std::string field;
    if (info.Length() > 1 && info[1].IsString()) field = info[1].As<Napi::String>().Utf8Value();
    if (!dump_) {
      dump_ = btf_dump__new(btf_, &Btf::DumpPrintf, &out_, nullptr);
      if (!dump_) return ThrowErrno(env, "creating BTF dumper", errno);
    }
    out_.clear();
    LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts, .field_name = field.c_str());
    int err = btf_dump__emit_type_decl(dump_, id, &opts);
    if (err) return ThrowErrno(env, "rendering BTF type " + std::to_string(id), err);
    return Napi::String::New(env, out_);
  }

  Napi::Value ResolveSize(const Napi::CallbackInfo& info) {
    uint32_t id;
    if (!Usable(info.Env()) || !ArgU32(info, 0, &id, "type id")) return info.Env().Undefined();
    long long s = btf__resolve_size(btf_, id);
    if (s < 0) return ThrowErrno(info.Env(), "resolving size of BTF type " + std::to_string(id), static_cast<int>(s));
    return Napi::Number::New(info.Env(), static_cast<double>(s));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }

  friend void InitBtf(Napi::Env env, Napi::Object exports);

  struct btf* btf_ = nullptr;
  struct btf* base_ = nullptr;
  struct btf_dump* dump_ = nullptr;
  std::string out_;
  uint32_t firstId_ = 0;
};

void InitBtf(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Btf::DefineClass(env, "Btf",
                                         {
                                             Btf::InstanceMethod<&Btf::TypeCount>("typeCount"),
                                             Btf::InstanceMethod<&Btf::FirstId>("firstId"),
                                             Btf::InstanceMethod<&Btf::FindByName>("findByName"),
                                             Btf::InstanceMethod<&Btf::NamesOfKind>("namesOfKind"),
                                             Btf::InstanceMethod<&Btf::TypesOfKind>("typesOfKind"),
                                             Btf::InstanceMethod<&Btf::Type>("type"),
                                             Btf::InstanceMethod<&Btf::Decl>("decl"),
                                             Btf::InstanceMethod<&Btf::ResolveSize>("resolveSize"),
                                             Btf::InstanceMethod<&Btf::Close>("close"),
                                         });
  exports.Set("Btf", ctor);
}

}  // namespace rt
