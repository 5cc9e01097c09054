// A netlink socket opened inside a chosen network namespace, joined to multicast groups and read
// on the JS thread with uv_poll. Node has no AF_NETLINK sockets; retrace needs them to receive
// nftables trace messages (NFNLGRP_NFTRACE) from every namespace.
//
// The socket is created after setns() into the target namespace and the thread returns to its
// own namespace right away: a socket stays bound to the namespace it was created in.
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <napi.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

namespace rt {

namespace {

constexpr size_t kDatagramMax = 64 * 1024;
constexpr int kMaxDatagramsPerWakeup = 256;  // then yield; level-triggered poll re-fires

// Creates the socket in the namespace at nsPath ("" = this thread's own).
int SocketIn(const std::string& nsPath, int protocol, int* err, std::string* what) {
  if (nsPath.empty()) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd < 0) {
      *err = errno;
      *what = "creating netlink socket";
    }
    return fd;
  }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    *err = errno;
    *what = "opening this thread's network namespace";
    return -1;
  }
  int target = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    *err = errno;
    *what = "opening network namespace " + nsPath;
    close(self);
    return -1;
  }
  int fd = -1;
  if (setns(target, CLONE_NEWNET)) {
    *err = errno;
    *what = "entering network namespace " + nsPath;
  } else {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd < 0) {
      *err = errno;
      *what = "creating netlink socket in " + nsPath;
    }
    // Staying in the other namespace would silently move every later socket of this process.
    if (setns(self, CLONE_NEWNET)) abort();
  }
  close(target);
  close(self);
  return fd;
}

}  // namespace

class NetlinkSocket : public Napi::ObjectWrap<NetlinkSocket> {
 public:
  explicit NetlinkSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsArray() ||
        !info[3].IsFunction()) {
      ThrowType(env, "NetlinkSocket(nsPath: string, protocol: number, groups: number[], onMessages: function)");
      return;
    }
    std::string nsPath = info[0].As<Napi::String>().Utf8Value();
    int protocol = info[1].As<Napi::Number>().Int32Value();
    int err = 0;
    std::string what;
    fd_ = SocketIn(nsPath, protocol, &err, &what);
    if (fd_ < 0) {
      ThrowErrno(env, what, err);
      return;
    }
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa))) {
      ThrowErrno(env, "binding netlink socket", errno);
      Free();
      return;
    }
    Napi::Array groups = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < groups.Length(); i++) {
      int g = groups.Get(i).As<Napi::Number>().Int32Value();
      if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g))) {
        ThrowErrno(env, "joining netlink group " + std::to_string(g), errno);
        Free();
        return;
      }
    }
    // Bursts of trace messages must not overrun the queue between two wake-ups.
    int rcvbuf = 16 << 20;
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    buf_.resize(kDatagramMax);
    cb_ = Napi::Persistent(info[3].As<Napi::Function>());
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "retrace:netlink");
  }

  ~NetlinkSocket() override { Free(); }

  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NetlinkSocket",
                                   {
                                       InstanceMethod("start", &NetlinkSocket::Start),
                                       InstanceMethod("read", &NetlinkSocket::Read),
                                       InstanceMethod("cookie", &NetlinkSocket::Cookie),
                                       InstanceMethod("close", &NetlinkSocket::Close),
                                   });
    exports.Set("NetlinkSocket", f);
  }

 private:
  // Reads what is queued: an array of datagrams (Buffers) and the overruns since last time.
  Napi::Value Collect(Napi::Env env, int max) {
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    for (int i = 0; i < max && fd_ >= 0; i++) {
      ssize_t len = recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (len < 0) {
        if (errno == ENOBUFS) {
          overruns_++;  // the kernel dropped messages: counted, reported
          continue;
        }
        if (errno == EINTR) continue;
        break;  // EAGAIN: empty
      }
      out.Set(n++, Napi::Buffer<uint8_t>::Copy(env, buf_.data(), static_cast<size_t>(len)));
    }
    return out;
  }

  void Deliver(bool fromJs) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Value msgs = Collect(env, kMaxDatagramsPerWakeup);
    if (msgs.As<Napi::Array>().Length() == 0 && overruns_ == reported_) return;
    Napi::Value lost = Napi::Number::New(env, static_cast<double>(overruns_ - reported_));
    reported_ = overruns_;
    if (fromJs)
      cb_.Call(Value(), {msgs, lost});
    else
      cb_.MakeCallback(Value(), {msgs, lost}, *ctx_);
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<NetlinkSocket*>(handle->data);
    self->Deliver(false);
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return ThrowErrno(env, "netlink socket is closed", EBADF);
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      poll_->data = this;
      int err = uv_poll_init(loop, poll_, fd_);
      if (err) {
        delete poll_;
        poll_ = nullptr;
        return ThrowErrno(env, std::string("watching netlink socket: ") + uv_strerror(err), -err);
      }
      uv_poll_start(poll_, UV_READABLE, &NetlinkSocket::OnPoll);
    }
    return env.Undefined();
  }

  // Synchronously hands everything queued to the callback.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) Deliver(true);
    return info.Env().Undefined();
  }

  // The socket's cookie (SO_COOKIE): how BPF programs recognise this socket.
  Napi::Value Cookie(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    if (fd_ < 0) return ThrowErrno(env, "netlink socket is closed", EBADF);
    if (getsockopt(fd_, SOL_SOCKET, SO_COOKIE, &cookie, &len)) return ThrowErrno(env, "reading SO_COOKIE", errno);
    return Napi::BigInt::New(env, cookie);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }

  void Free() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  std::vector<uint8_t> buf_;
  uint64_t overruns_ = 0;
  uint64_t reported_ = 0;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
};

void InitNetlink(Napi::Env env, Napi::Object exports) { NetlinkSocket::Init(env, exports); }

}  // namespace rt
