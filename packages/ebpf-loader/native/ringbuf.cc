// BPF ring buffer consumer driven by libuv: the ring buffer's epoll fd is watched by a
// uv_poll handle on the JS thread, and records go to JS in batches (one call, many records).
// No thread and no busy polling: when the ring is empty nothing runs.
#include <bpf/libbpf.h>
#include <errno.h>
#include <napi.h>
#include <string.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace rt {

namespace {
constexpr int kBatchFull = -ENOBUFS;       // our sample callback's "stop here" signal
constexpr int kMaxBatchesPerWakeup = 16;   // then yield to the event loop; level-triggered poll re-fires
}  // namespace

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info) {
    Napi::Env env = info.Env();
    uint32_t mapFd, maxRecords, maxBytes;
    if (!ArgU32(info, 0, &mapFd, "ring buffer map fd")) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowType(env, "the ring buffer needs a callback(records: Buffer, offsets: Uint32Array)");
      return;
    }
    if (!ArgU32(info, 2, &maxRecords, "maxBatchRecords") || !ArgU32(info, 3, &maxBytes, "maxBatchBytes")) return;
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "retrace:ringbuf");
    maxRecords_ = maxRecords ? maxRecords : 1;
    maxBytes_ = maxBytes ? maxBytes : 1;
    batch_.reserve(maxBytes_);
    ResetLibbpfLog();
    rb_ = ring_buffer__new(static_cast<int>(mapFd), &RingBuffer::Sample, this, nullptr);
    if (!rb_) {
      ThrowErrno(env, "creating ring buffer consumer", errno);
      return;
    }
  }

  ~RingBuffer() override { Free(); }

 private:
  static int Sample(void* ctx, void* data, size_t len) {
    auto* self = static_cast<RingBuffer*>(ctx);
    size_t off = self->batch_.size();
    size_t aligned = (len + 7) & ~static_cast<size_t>(7);  // keep every record 8-byte aligned for DataView reads
    self->batch_.resize(off + aligned);
    memcpy(self->batch_.data() + off, data, len);
    self->offsets_.push_back(static_cast<uint32_t>(off));
    self->offsets_.push_back(static_cast<uint32_t>(len));
    self->records_++;
    bool full = self->offsets_.size() / 2 >= self->maxRecords_ || self->batch_.size() >= self->maxBytes_;
    return full ? kBatchFull : 0;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->Drain(kMaxBatchesPerWakeup, false);
  }

  // Returns false when a JS exception is pending (only possible when called from JS).
  bool Drain(int maxBatches, bool fromJs) {
    Napi::Env env = Env();
    draining_ = true;
    bool ok = true;
    for (int i = 0; (maxBatches < 0 || i < maxBatches) && rb_ && !closing_; i++) {
      int n = ring_buffer__consume(rb_);
      bool more = n == kBatchFull;
      if (n < 0 && !more) {
        ThrowErrno(env, "consuming ring buffer", n);
        ok = false;
        break;
      }
      if (offsets_.empty()) break;
      if (!Deliver(fromJs)) {
        ok = false;
        break;
      }
      if (!more) break;
    }
    draining_ = false;
    if (closing_) Free();
    if (!ok && !fromJs && env.IsExceptionPending()) {
      // Nobody up the stack can catch it: report it like any uncaught exception.
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
    return ok;
  }

  bool Deliver(bool fromJs) {
    Napi::Env env = Env();
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, batch_.data(), batch_.size());
    Napi::Uint32Array offs = Napi::Uint32Array::New(env, offsets_.size());
    memcpy(offs.Data(), offsets_.data(), offsets_.size() * sizeof(uint32_t));
    batch_.clear();
    offsets_.clear();
    batches_++;
    if (fromJs)
      cb_.Call(Value(), {buf, offs});
    else
      cb_.MakeCallback(Value(), {buf, offs}, *ctx_);
    return !env.IsExceptionPending();
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!rb_) return ThrowErrno(env, "ring buffer is closed", EBADF);
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      poll_->data = this;
      int err = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
      if (err) {
        delete poll_;
        poll_ = nullptr;
        return ThrowErrno(env, std::string("watching ring buffer: ") + uv_strerror(err), -err);
      }
    }
    int err = uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnPoll);
    if (err) return ThrowErrno(env, std::string("watching ring buffer: ") + uv_strerror(err), -err);
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_) uv_poll_stop(poll_);
    return info.Env().Undefined();
  }

  // Synchronously hands everything currently in the ring to the callback; returns records delivered.
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!rb_) return ThrowErrno(env, "ring buffer is closed", EBADF);
    uint64_t before = records_;
    if (!Drain(-1, true)) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(records_ - before));
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("records", static_cast<double>(records_));
    o.Set("batches", static_cast<double>(batches_));
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (draining_)
      closing_ = true;  // freed when the current drain unwinds
    else
      Free();
    return info.Env().Undefined();
  }

  void Free() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
  }

  friend void InitRingBuffer(Napi::Env env, Napi::Object exports);

  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
  std::vector<uint8_t> batch_;
  std::vector<uint32_t> offsets_;
  size_t maxRecords_ = 0, maxBytes_ = 0;
  uint64_t records_ = 0, batches_ = 0;
  bool draining_ = false, closing_ = false;
};

void InitRingBuffer(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = RingBuffer::DefineClass(env, "RingBuffer",
                                                {
                                                    RingBuffer::InstanceMethod<&RingBuffer::Start>("start"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Stop>("stop"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Consume>("consume"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Stats>("stats"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Close>("close"),
                                                });
  exports.Set("RingBuffer", ctor);
}

}  // namespace rt
