// Per-environment state: constructors of the wrapped classes.
#pragma once
#include <napi.h>

namespace rt {

struct AddonData {
  Napi::FunctionReference linkCtor;
};

inline AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

void InitObject(Napi::Env env, Napi::Object exports);
void InitLink(Napi::Env env, Napi::Object exports);
void InitRingBuffer(Napi::Env env, Napi::Object exports);
void InitMaps(Napi::Env env, Napi::Object exports);
void InitBtf(Napi::Env env, Napi::Object exports);
void InitPcap(Napi::Env env, Napi::Object exports);
void InitSplice(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitClock(Napi::Env env, Napi::Object exports);
void InitFormatter(Napi::Env env, Napi::Object exports);

}  // namespace rt
