#include "errors.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace rt {

namespace {
std::string g_log;
constexpr size_t kMaxLog = 8u << 20;  // verifier logs can be megabytes; keep the tail
bool g_debug = false;

int Printer(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_debug) return 0;
  std::string line = VFormat(fmt, args);
  if (g_debug) fputs(line.c_str(), stderr);
  g_log += line;
  if (g_log.size() > kMaxLog) g_log.erase(0, g_log.size() - kMaxLog);
  return static_cast<int>(line.size());
}
}  // namespace

std::string VFormat(const char* fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return std::string();
  std::string out(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(out.data(), out.size(), fmt, args);
  out.resize(static_cast<size_t>(n));
  return out;
}

void InstallLibbpfPrinter() {
  const char* dbg = getenv("RETRACE_LIBBPF_DEBUG");
  g_debug = dbg != nullptr && dbg[0] != '\0' && dbg[0] != '0';
  libbpf_set_print(Printer);
}

void ResetLibbpfLog() { g_log.clear(); }

std::string TakeLibbpfLog() {
  std::string out;
  out.swap(g_log);
  return out;
}

Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  const char* name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("libbpfLog", Napi::String::New(env, TakeLibbpfLog()));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const std::string& what) {
  Napi::TypeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) {
    ThrowType(info.Env(), std::string(name) + " must be a string");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

bool ArgU32(const Napi::CallbackInfo& info, size_t i, uint32_t* out, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    ThrowType(info.Env(), std::string(name) + " must be a number");
    return false;
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d))) {
    ThrowType(info.Env(), std::string(name) + " must be an integer in [0, 2^32)");
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ArgU64(const Napi::CallbackInfo& info, size_t i, uint64_t* out, const char* name) {
  if (info.Length() > i && info[i].IsBigInt()) {
    bool lossless = false;
    *out = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      ThrowType(info.Env(), std::string(name) + " must fit in an unsigned 64-bit integer");
      return false;
    }
    return true;
  }
  if (info.Length() > i && info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
      ThrowType(info.Env(), std::string(name) + " must be a non-negative safe integer or a bigint");
      return false;
    }
    *out = static_cast<uint64_t>(d);
    return true;
  }
  ThrowType(info.Env(), std::string(name) + " must be a bigint or a number");
  return false;
}

bool ArgBuffer(const Napi::CallbackInfo& info, size_t i, Napi::Buffer<uint8_t>* out, const char* name) {
  if (info.Length() <= i || !info[i].IsBuffer()) {
    ThrowType(info.Env(), std::string(name) + " must be a Buffer");
    return false;
  }
  *out = info[i].As<Napi::Buffer<uint8_t>>();
  return true;
}

}  // namespace rt
