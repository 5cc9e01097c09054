// The offset between the wall clock and CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns), read in
// C so both clocks come at nanosecond resolution: JavaScript's Date.now() has whole milliseconds.
#include <napi.h>
#include <time.h>

#include <cstdint>

#include "addon.h"

namespace rt {

namespace {

int64_t Ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Brackets one CLOCK_REALTIME read between two CLOCK_MONOTONIC reads, many times, and keeps the
// narrowest bracket: a preemption between the reads only widens that one try.
Napi::Value MonotonicClockOffset(const Napi::CallbackInfo& info) {
  int64_t best_width = INT64_MAX;
  int64_t best_offset = 0;
  for (int i = 0; i < 64; i++) {
    int64_t before = Ns(CLOCK_MONOTONIC);
    int64_t wall = Ns(CLOCK_REALTIME);
    int64_t after = Ns(CLOCK_MONOTONIC);
    int64_t width = after - before;
    if (width < best_width) {
      best_width = width;
      best_offset = wall - (before + width / 2);
    }
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("offsetNs", Napi::BigInt::New(info.Env(), best_offset));
  out.Set("uncertaintyNs", Napi::Number::New(info.Env(), static_cast<double>(best_width)));
  return out;
}

}  // namespace

void InitClock(Napi::Env env, Napi::Object exports) {
  exports.Set("monotonicClockOffset", Napi::Function::New<MonotonicClockOffset>(env, "monotonicClockOffset"));
}

}  // namespace rt
