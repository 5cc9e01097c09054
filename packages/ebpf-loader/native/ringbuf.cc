// BPF ring buffer consumer, zero-copy, driven by libuv.
//
// The map is mmapped as the kernel lays it out (consumer position page read-write; producer
// position page plus the data area mapped twice, read-only, so a record that wraps is still
// contiguous). JS receives one read-only ArrayBuffer over the data area, created once, and per
// batch only a count: offsets and lengths sit in a reused Uint32Array. The consumer position is
// advanced after the callback returns, so the producer cannot overwrite records while JS reads
// them. The map fd is watched with uv_poll on the JS thread: no thread, no busy polling.
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <napi.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include <memory>

#include "addon.h"
#include "errors.h"

namespace rt {

namespace {

constexpr uint32_t kBusyBit = 1u << 31;     // BPF_RINGBUF_BUSY_BIT
constexpr uint32_t kDiscardBit = 1u << 30;  // BPF_RINGBUF_DISCARD_BIT
constexpr uint32_t kHeaderSize = 8;         // BPF_RINGBUF_HDR_SZ
constexpr int kMaxBatchesPerWakeup = 16;    // then yield to the event loop; level-triggered poll re-fires

// The data mapping outlives the RingBuffer object if JS still holds the ArrayBuffer over it:
// whoever lets go last unmaps.
struct DataMapping {
  void* base = MAP_FAILED;
  size_t length = 0;
  int refs = 0;

  void Release() {
    if (--refs > 0) return;
    if (base != MAP_FAILED) munmap(base, length);
    delete this;
  }
};

}  // namespace

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info) {
    Napi::Env env = info.Env();
    uint32_t mapFd, maxRecords, maxBytes;
    if (!ArgU32(info, 0, &mapFd, "ring buffer map fd")) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowType(env, "the ring buffer needs a callback(count: number)");
      return;
    }
    if (!ArgU32(info, 2, &maxRecords, "maxBatchRecords") || !ArgU32(info, 3, &maxBytes, "maxBatchBytes")) return;
    fd_ = static_cast<int>(mapFd);
    maxRecords_ = maxRecords ? maxRecords : 1;
    maxBytes_ = maxBytes ? maxBytes : 1;

    struct bpf_map_info mi;
    memset(&mi, 0, sizeof(mi));
    uint32_t len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd_, &mi, &len)) {
      ThrowErrno(env, "reading ring buffer map info", errno);
      return;
    }
    if (mi.type != BPF_MAP_TYPE_RINGBUF) {
      ThrowErrno(env, "map is not a BPF ring buffer", EINVAL);
      return;
    }
    size_ = mi.max_entries;
    mask_ = size_ - 1;
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));

    void* cons = mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (cons == MAP_FAILED) {
      ThrowErrno(env, "mapping ring buffer consumer page", errno);
      return;
    }
    consumerPos_ = static_cast<uint64_t*>(cons);
    mapping_ = new DataMapping();
    mapping_->refs = 1;
    mapping_->length = page_ + 2 * size_;
    mapping_->base = mmap(nullptr, mapping_->length, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(page_));
    if (mapping_->base == MAP_FAILED) {
      ThrowErrno(env, "mapping ring buffer data", errno);
      return;
    }
    producerPos_ = static_cast<uint64_t*>(mapping_->base);
    data_ = static_cast<uint8_t*>(mapping_->base) + page_;

    // JS view of the data area (twice its size: the double mapping). Its finalizer drops the
    // mapping reference it holds.
    mapping_->refs++;
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, data_, 2 * size_, [](Napi::Env, void*, DataMapping* m) { m->Release(); }, mapping_);
    data_ab_ = Napi::Persistent(ab);
    offsets_ = Napi::Persistent(Napi::Uint32Array::New(env, 2 * static_cast<size_t>(maxRecords_)));
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "retrace:ringbuf");
  }

  ~RingBuffer() override { Free(false); }

 private:
  // Collects up to one batch starting at the consumer position; returns the new position.
  uint64_t Collect(uint32_t* count) {
    uint32_t* offs = offsets_.Value().Data();
    uint64_t cons = __atomic_load_n(consumerPos_, __ATOMIC_ACQUIRE);
    uint64_t prod = __atomic_load_n(producerPos_, __ATOMIC_ACQUIRE);
    uint32_t n = 0;
    size_t bytes = 0;
    while (n < maxRecords_ && bytes < maxBytes_) {
      if (cons >= prod) {
        prod = __atomic_load_n(producerPos_, __ATOMIC_ACQUIRE);
        if (cons >= prod) break;
      }
      const uint32_t* hdr = reinterpret_cast<const uint32_t*>(data_ + (cons & mask_));
      uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
      if (len & kBusyBit) break;  // reserved, not yet committed
      uint32_t dataLen = len & ~(kBusyBit | kDiscardBit);
      if (!(len & kDiscardBit)) {
        offs[2 * n] = static_cast<uint32_t>((cons & mask_) + kHeaderSize);
        offs[2 * n + 1] = dataLen;
        n++;
        bytes += dataLen;
      }
      cons += (dataLen + kHeaderSize + 7) & ~static_cast<uint64_t>(7);
    }
    *count = n;
    return cons;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->Drain(kMaxBatchesPerWakeup, false);
  }

  // Returns false when a JS exception is pending (rethrown to JS callers, reported otherwise).
  bool Drain(int maxBatches, bool fromJs) {
    Napi::Env env = Env();
    draining_ = true;
    bool ok = true;
    for (int i = 0; (maxBatches < 0 || i < maxBatches) && consumerPos_ && !closing_; i++) {
      uint32_t n = 0;
      uint64_t next = Collect(&n);
      uint64_t cur = __atomic_load_n(consumerPos_, __ATOMIC_RELAXED);
      if (next == cur) break;
      if (n > 0) {
        records_ += n;
        batches_++;
        Napi::Value count = Napi::Number::New(env, n);
        if (fromJs)
          cb_.Call(Value(), {count});
        else
          cb_.MakeCallback(Value(), {count}, *ctx_);
      }
      // Only now may the producer reuse the space JS was reading.
      if (consumerPos_) __atomic_store_n(consumerPos_, next, __ATOMIC_RELEASE);
      if (env.IsExceptionPending()) {
        ok = false;
        break;
      }
    }
    draining_ = false;
    if (closing_) Free(true);
    if (!ok && !fromJs) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());  // nobody up the stack can catch it
    }
    return ok;
  }

  Napi::Value Views(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!consumerPos_) return ThrowErrno(env, "ring buffer is closed", EBADF);
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", data_ab_.Value());
    o.Set("offsets", offsets_.Value());
    return o;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!consumerPos_) return ThrowErrno(env, "ring buffer is closed", EBADF);
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      poll_->data = this;
      int err = uv_poll_init(loop, poll_, fd_);  // ring buffer maps are pollable: readable when not empty
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

  // Synchronously hands everything now in the ring to the callback; returns records delivered.
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!consumerPos_) return ThrowErrno(env, "ring buffer is closed", EBADF);
    uint64_t before = records_;
    if (!Drain(-1, true)) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(records_ - before));
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("records", static_cast<double>(records_));
    o.Set("batches", static_cast<double>(batches_));
    o.Set("size", static_cast<double>(size_));
    if (consumerPos_) {
      uint64_t cons = __atomic_load_n(consumerPos_, __ATOMIC_ACQUIRE);
      uint64_t prod = __atomic_load_n(producerPos_, __ATOMIC_ACQUIRE);
      o.Set("pendingBytes", static_cast<double>(prod - cons));
    }
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (draining_)
      closing_ = true;  // freed when the current drain unwinds
    else
      Free(true);
    return info.Env().Undefined();
  }

  // explicit: called on the JS thread outside GC, so the ArrayBuffer can be detached (every view
  // of it becomes empty) and the data unmapped now; from the destructor the ArrayBuffer's own
  // finalizer unmaps once no view remains.
  void Free(bool explicitClose) {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (consumerPos_) munmap(consumerPos_, page_);
    consumerPos_ = nullptr;
    producerPos_ = nullptr;
    data_ = nullptr;
    if (explicitClose && !data_ab_.IsEmpty()) {
      Napi::ArrayBuffer ab = data_ab_.Value();
      if (!ab.IsDetached()) ab.Detach();
      if (mapping_ && mapping_->base != MAP_FAILED) {
        munmap(mapping_->base, mapping_->length);
        mapping_->base = MAP_FAILED;
      }
    }
    if (!data_ab_.IsEmpty()) data_ab_.Reset();
    if (mapping_) mapping_->Release();
    mapping_ = nullptr;
  }

  friend void InitRingBuffer(Napi::Env env, Napi::Object exports);

  int fd_ = -1;
  size_t size_ = 0, mask_ = 0, page_ = 0;
  uint64_t* consumerPos_ = nullptr;
  uint64_t* producerPos_ = nullptr;
  uint8_t* data_ = nullptr;
  DataMapping* mapping_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> data_ab_;
  Napi::Reference<Napi::Uint32Array> offsets_;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
  uint32_t maxRecords_ = 0;
  size_t maxBytes_ = 0;
  uint64_t records_ = 0, batches_ = 0;
  bool draining_ = false, closing_ = false;
};

void InitRingBuffer(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = RingBuffer::DefineClass(env, "RingBuffer",
                                                {
                                                    RingBuffer::InstanceMethod<&RingBuffer::Views>("views"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Start>("start"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Stop>("stop"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Consume>("consume"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Stats>("stats"),
                                                    RingBuffer::InstanceMethod<&RingBuffer::Close>("close"),
                                                });
  exports.Set("RingBuffer", ctor);
}

}  // namespace rt
