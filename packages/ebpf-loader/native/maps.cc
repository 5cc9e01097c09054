// fd-level operations: map elements (single and batch), map creation, object info, test runs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <napi.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace rt {

namespace {

Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  uint32_t fd, valueSize, flags = 0;
  Napi::Buffer<uint8_t> key;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgBuffer(info, 1, &key, "key") || !ArgU32(info, 2, &valueSize, "value size"))
    return info.Env().Undefined();
  if (info.Length() > 3 && !ArgU32(info, 3, &flags, "flags")) return info.Env().Undefined();
  std::vector<uint8_t> value(valueSize);
  int err = bpf_map_lookup_elem_flags(static_cast<int>(fd), key.Data(), value.data(), flags);
  if (err) {
    if (errno == ENOENT) return info.Env().Null();
    return ThrowErrno(info.Env(), "map lookup", errno);
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), value.data(), value.size());
}

Napi::Value MapLookupAndDelete(const Napi::CallbackInfo& info) {
  uint32_t fd, valueSize;
  Napi::Buffer<uint8_t> key;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgBuffer(info, 1, &key, "key") || !ArgU32(info, 2, &valueSize, "value size"))
    return info.Env().Undefined();
  std::vector<uint8_t> value(valueSize);
  int err = bpf_map_lookup_and_delete_elem(static_cast<int>(fd), key.Length() ? key.Data() : nullptr, value.data());
  if (err) {
    if (errno == ENOENT) return info.Env().Null();
    return ThrowErrno(info.Env(), "map lookup-and-delete", errno);
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), value.data(), value.size());
}

Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  uint32_t fd, flags;
  Napi::Buffer<uint8_t> key, value;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgBuffer(info, 1, &key, "key") || !ArgBuffer(info, 2, &value, "value") ||
      !ArgU32(info, 3, &flags, "flags"))
    return info.Env().Undefined();
  int err = bpf_map_update_elem(static_cast<int>(fd), key.Length() ? key.Data() : nullptr, value.Data(), flags);
  if (err) return ThrowErrno(info.Env(), "map update", errno);
  return info.Env().Undefined();
}

Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  uint32_t fd;
  Napi::Buffer<uint8_t> key;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgBuffer(info, 1, &key, "key")) return info.Env().Undefined();
  int err = bpf_map_delete_elem(static_cast<int>(fd), key.Data());
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    return ThrowErrno(info.Env(), "map delete", errno);
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value MapNextKey(const Napi::CallbackInfo& info) {
  uint32_t fd, keySize;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgU32(info, 2, &keySize, "key size")) return info.Env().Undefined();
  const void* cur = nullptr;
  if (info[1].IsBuffer()) cur = info[1].As<Napi::Buffer<uint8_t>>().Data();
  std::vector<uint8_t> next(keySize);
  int err = bpf_map_get_next_key(static_cast<int>(fd), cur, next.data());
  if (err) {
    if (errno == ENOENT) return info.Env().Null();
    return ThrowErrno(info.Env(), "map iteration", errno);
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), next.data(), next.size());
}

// One batch of lookups (optionally deleting). Returns {keys, values, count, next}; next is
// null when the map is exhausted.
Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t fd, keySize, valueSize, count;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgU32(info, 2, &keySize, "key size") ||
      !ArgU32(info, 3, &valueSize, "value size") || !ArgU32(info, 4, &count, "count"))
    return env.Undefined();
  bool del = info.Length() > 5 && info[5].ToBoolean().Value();
  size_t tokenSize = std::max<size_t>(keySize, 8);
  std::vector<uint8_t> in(tokenSize), out(tokenSize), keys(static_cast<size_t>(keySize) * count),
      values(static_cast<size_t>(valueSize) * count);
  bool first = !info[1].IsBuffer();
  if (!first) {
    auto b = info[1].As<Napi::Buffer<uint8_t>>();
    memcpy(in.data(), b.Data(), std::min(b.Length(), tokenSize));
  }
  uint32_t n = count;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int err = del ? bpf_map_lookup_and_delete_batch(static_cast<int>(fd), first ? nullptr : in.data(), out.data(),
                                                  keys.data(), values.data(), &n, &opts)
                : bpf_map_lookup_batch(static_cast<int>(fd), first ? nullptr : in.data(), out.data(), keys.data(),
                                       values.data(), &n, &opts);
  bool done = false;
  if (err) {
    if (errno != ENOENT) return ThrowErrno(env, del ? "map lookup-and-delete batch" : "map lookup batch", errno);
    done = true;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), static_cast<size_t>(keySize) * n));
  o.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), static_cast<size_t>(valueSize) * n));
  o.Set("count", static_cast<double>(n));
  o.Set("next", done ? env.Null() : Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size()));
  return o;
}

Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  uint32_t fd, count, flags;
  Napi::Buffer<uint8_t> keys, values;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgBuffer(info, 1, &keys, "keys") || !ArgBuffer(info, 2, &values, "values") ||
      !ArgU32(info, 3, &count, "count") || !ArgU32(info, 4, &flags, "flags"))
    return info.Env().Undefined();
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
  uint32_t n = count;
  int err = bpf_map_update_batch(static_cast<int>(fd), keys.Data(), values.Data(), &n, &opts);
  if (err) return ThrowErrno(info.Env(), "map update batch", errno);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  uint32_t fd, count;
  Napi::Buffer<uint8_t> keys;
  if (!ArgU32(info, 0, &fd, "map fd") || !ArgBuffer(info, 1, &keys, "keys") || !ArgU32(info, 2, &count, "count"))
    return info.Env().Undefined();
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint32_t n = count;
  int err = bpf_map_delete_batch(static_cast<int>(fd), keys.Data(), &n, &opts);
  if (err && errno != ENOENT) return ThrowErrno(info.Env(), "map delete batch", errno);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  uint32_t type, keySize, valueSize, maxEntries, flags = 0;
  std::string name;
  if (!ArgU32(info, 0, &type, "map type") || !ArgString(info, 1, &name, "map name") || !ArgU32(info, 2, &keySize, "key size") ||
      !ArgU32(info, 3, &valueSize, "value size") || !ArgU32(info, 4, &maxEntries, "max entries"))
    return info.Env().Undefined();
  if (info.Length() > 5 && !ArgU32(info, 5, &flags, "flags")) return info.Env().Undefined();
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(type), name.c_str(), keySize, valueSize, maxEntries, &opts);
  if (fd < 0) return ThrowErrno(info.Env(), "creating map '" + name + "'", errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  uint32_t fd;
  if (!ArgU32(info, 0, &fd, "fd")) return info.Env().Undefined();
  close(static_cast<int>(fd));
  return info.Env().Undefined();
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) return ThrowErrno(info.Env(), "counting possible CPUs", n);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t fd;
  if (!ArgU32(info, 0, &fd, "program fd")) return env.Undefined();
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  uint32_t len = sizeof(pi);
  if (bpf_obj_get_info_by_fd(static_cast<int>(fd), &pi, &len)) return ThrowErrno(env, "reading program info", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(pi.id));
  o.Set("type", static_cast<double>(pi.type));
  o.Set("name", pi.name);
  o.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_time_ns)));
  o.Set("runCount", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_cnt)));
  o.Set("xlatedLen", static_cast<double>(pi.xlated_prog_len));
  o.Set("jitedLen", static_cast<double>(pi.jited_prog_len));
  o.Set("verifiedInsns", static_cast<double>(pi.verified_insns));
  return o;
}

Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t fd;
  if (!ArgU32(info, 0, &fd, "map fd")) return env.Undefined();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  uint32_t len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(static_cast<int>(fd), &mi, &len)) return ThrowErrno(env, "reading map info", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(mi.id));
  o.Set("type", static_cast<double>(mi.type));
  o.Set("name", mi.name);
  o.Set("keySize", static_cast<double>(mi.key_size));
  o.Set("valueSize", static_cast<double>(mi.value_size));
  o.Set("maxEntries", static_cast<double>(mi.max_entries));
  return o;
}

// BPF_PROG_TEST_RUN: runs a loaded program on a packet (or context) without attaching it.
Napi::Value TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t fd, repeat, outSize;
  Napi::Buffer<uint8_t> data;
  if (!ArgU32(info, 0, &fd, "program fd") || !ArgU32(info, 2, &repeat, "repeat") || !ArgU32(info, 3, &outSize, "output size"))
    return env.Undefined();
  bool hasData = info[1].IsBuffer();
  if (hasData) data = info[1].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> out(outSize);
  Napi::Buffer<uint8_t> ctx;
  bool hasCtx = info.Length() > 4 && info[4].IsBuffer();
  if (hasCtx) ctx = info[4].As<Napi::Buffer<uint8_t>>();
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = hasData ? data.Data() : nullptr,
              .data_out = outSize ? out.data() : nullptr, .data_size_in = hasData ? static_cast<uint32_t>(data.Length()) : 0,
              .data_size_out = outSize, .ctx_in = hasCtx ? ctx.Data() : nullptr,
              .ctx_size_in = hasCtx ? static_cast<uint32_t>(ctx.Length()) : 0, .repeat = static_cast<int>(repeat));
  int err = bpf_prog_test_run_opts(static_cast<int>(fd), &opts);
  if (err) return ThrowErrno(env, "test-running program", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("retval", static_cast<double>(opts.retval));
  o.Set("durationNs", static_cast<double>(opts.duration));
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), std::min<size_t>(opts.data_size_out, out.size())));
  return o;
}

}  // namespace

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New<MapLookup>(env, "mapLookup"));
  exports.Set("mapLookupAndDelete", Napi::Function::New<MapLookupAndDelete>(env, "mapLookupAndDelete"));
  exports.Set("mapUpdate", Napi::Function::New<MapUpdate>(env, "mapUpdate"));
  exports.Set("mapDelete", Napi::Function::New<MapDelete>(env, "mapDelete"));
  exports.Set("mapNextKey", Napi::Function::New<MapNextKey>(env, "mapNextKey"));
  exports.Set("mapLookupBatch", Napi::Function::New<MapLookupBatch>(env, "mapLookupBatch"));
  exports.Set("mapUpdateBatch", Napi::Function::New<MapUpdateBatch>(env, "mapUpdateBatch"));
  exports.Set("mapDeleteBatch", Napi::Function::New<MapDeleteBatch>(env, "mapDeleteBatch"));
  exports.Set("mapCreate", Napi::Function::New<MapCreate>(env, "mapCreate"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("numPossibleCpus", Napi::Function::New<NumPossibleCpus>(env, "numPossibleCpus"));
  exports.Set("progInfo", Napi::Function::New<ProgInfo>(env, "progInfo"));
  exports.Set("mapInfo", Napi::Function::New<MapInfo>(env, "mapInfo"));
  exports.Set("testRun", Napi::Function::New<TestRun>(env, "testRun"));
}

}  // namespace rt
