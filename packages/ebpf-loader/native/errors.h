// Errors crossing into JS: errno plus whatever libbpf printed during the call.
#pragma once
#include <napi.h>
#include <stdarg.h>

#include <string>

namespace rt {

// libbpf reports details (verifier logs, CO-RE failures) only through its print callback;
// we keep what it printed since the last reset so the JS error can carry it.
// printf-style formatting of a va_list into a string (for libbpf's print callbacks).
std::string VFormat(const char* fmt, va_list args);

void InstallLibbpfPrinter();
void ResetLibbpfLog();
std::string TakeLibbpfLog();

// Throws a JS Error {message, errno, code, libbpfLog} and returns undefined for `return`.
Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err);
Napi::Value ThrowType(Napi::Env env, const std::string& what);

// Argument helpers: return false (with a pending exception) when the argument is wrong.
bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out, const char* name);
bool ArgU32(const Napi::CallbackInfo& info, size_t i, uint32_t* out, const char* name);
bool ArgU64(const Napi::CallbackInfo& info, size_t i, uint64_t* out, const char* name);
bool ArgBuffer(const Napi::CallbackInfo& info, size_t i, Napi::Buffer<uint8_t>* out, const char* name);

}  // namespace rt
