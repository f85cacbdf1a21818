// RingReader and PerfReader: BPF ring buffers and perf buffers drained from the
// Node event loop.
//
// How a batch reaches JavaScript:
//  * libuv watches libbpf's epoll fd (uv_poll), so a kernel wake-up costs one
//    loop iteration, no thread and no busy polling;
//  * BPF programs built with bpf/include/ebpf/output.h only wake the reader once
//    enough data is waiting, so a timer (uv_timer, `intervalMs`) also drains
//    what a quiet period left behind;
//  * libbpf's sample callbacks copy each record straight into the reader's one
//    batch buffer until `batchBytes` is reached, stop libbpf's loop there
//    (libbpf 1.1 has no ring_buffer__consume_n), and make ONE call into
//    JavaScript: callback(buffer, count, byteLength). What is left is drained
//    on the next loop turn, so a flood cannot starve the event loop.
//
// The batch buffer is a Node Buffer allocated once per reader (batchBytes plus
// room for a record) and handed to every call: no allocation per batch, and
// none for the garbage collector to find late. Its bytes are only valid during
// the call; the next drain overwrites them. A record larger than the room
// left is never split or dropped: the reader moves to a larger buffer (a new
// object, which JavaScript sees as a different first argument) and keeps it.
//
// Record framing in the buffer, each 8-byte aligned:
//   u32 length, u32 source (ring index, or CPU for perf buffers), bytes[length]
//
// Policy (batch size, interval, wake-up watermark) comes from TypeScript, which
// always passes it: nothing here has defaults.
#include "common.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <uv.h>

#include <algorithm>
#include <vector>

namespace {

constexpr size_t kHeader = 8;

inline size_t Align8(size_t n) { return (n + 7) & ~size_t(7); }

// Room for records past `batchBytes` in the batch buffer: a drain stops once
// `batchBytes` are batched, so a record up to this size always fits.
constexpr size_t kRoom = 64 * 1024;

// Shared machinery: uv handles, the batch buffer, the JS callback.
class ReaderBase {
 public:
  // The JavaScript methods both readers share (each class lists them in its
  // DefineClass; a base member pointer converts to the derived class's).
  Napi::Value JsClose(const Napi::CallbackInfo &info) {
    CloseHandles();
    return info.Env().Undefined();
  }
  Napi::Value JsPause(const Napi::CallbackInfo &info) {
    if (!closed_) Pause();
    return info.Env().Undefined();
  }
  Napi::Value JsResume(const Napi::CallbackInfo &info) {
    if (!closed_ && paused_) Resume();
    return info.Env().Undefined();
  }
  Napi::Value JsFlush(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), Flush()); }

 protected:
  Napi::Env env_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext *async_ = nullptr;
  uv_poll_t *poll_ = nullptr;
  uv_timer_t *timer_ = nullptr;
  uv_idle_t *idle_ = nullptr;  // continues a drain that stopped at batchBytes
  // The batch buffer: one Node Buffer, kept alive by this reference; data_
  // and cap_ are its memory, used_ the bytes of the batch being built.
  Napi::Reference<Napi::Buffer<uint8_t>> batch_;
  uint8_t *data_ = nullptr;
  size_t cap_ = 0;
  size_t used_ = 0;
  uint32_t count_ = 0;
  size_t batchBytes_ = 0;
  uint64_t intervalMs_ = 0;
  bool full_ = false;
  bool paused_ = false;
  bool closed_ = false;
  bool draining_ = false;

  explicit ReaderBase(Napi::Env env) : env_(env) {}
  virtual ~ReaderBase() {}

  virtual int Consume() = 0;  // libbpf consume; our callbacks fill the batch
  virtual void FreeBuffers() = 0;

  // { batchBytes, intervalMs }: both required, positive integers. False (with
  // a TypeError thrown) when not.
  bool ReadOptions(Napi::Value v) {
    Napi::Object opts = v.IsObject() ? v.As<Napi::Object>() : Napi::Object::New(env_);
    Napi::Value bb = opts.Get("batchBytes"), iv = opts.Get("intervalMs");
    double b = bb.IsNumber() ? bb.As<Napi::Number>().DoubleValue() : 0;
    double i = iv.IsNumber() ? iv.As<Napi::Number>().DoubleValue() : 0;
    if (!(b >= 1 && b <= 1 << 30) || !(i >= 1 && i <= 1e9)) {
      Napi::TypeError::New(env_, "batchBytes and intervalMs are required positive numbers").ThrowAsJavaScriptException();
      return false;
    }
    batchBytes_ = static_cast<size_t>(b);
    intervalMs_ = static_cast<uint64_t>(i);
    return true;
  }

  // A new batch buffer of `cap` bytes holding what the current one holds.
  // Runs on the JS thread, inside a handle scope (Drain, Flush, Start).
  bool Allocate(size_t cap) {
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env_, cap);
    if (env_.IsExceptionPending() || buf.IsEmpty()) return false;
    if (used_ > 0) memcpy(buf.Data(), data_, used_);
    batch_ = Napi::Persistent(buf);
    data_ = buf.Data();
    cap_ = cap;
    return true;
  }

  // Before a drain: the buffer is still ours and whole (JavaScript could have
  // detached its ArrayBuffer, e.g. by transferring it).
  bool Ready() {
    if (!batch_.IsEmpty()) {
      Napi::Buffer<uint8_t> buf = batch_.Value();
      if (!buf.IsEmpty() && buf.Data() == data_ && buf.Length() == cap_) return true;
    }
    used_ = 0;
    return Allocate(batchBytes_ + kRoom);
  }

  void Append(const void *data, uint32_t len, uint32_t source) {
    size_t need = Align8(kHeader + len);
    if (used_ + need > cap_ && !Allocate(std::max(used_, batchBytes_) + need + kRoom)) {
      // No memory for it: the record is gone (libbpf has consumed it). Stop.
      full_ = true;
      return;
    }
    uint8_t *at = data_ + used_;
    memcpy(at, &len, 4);
    memcpy(at + 4, &source, 4);
    memcpy(at + kHeader, data, len);
    memset(at + kHeader + len, 0, need - kHeader - len);  // padding: no stale bytes
    used_ += need;
    count_++;
    if (used_ >= batchBytes_) full_ = true;
  }

  void Start(Napi::Value cb, int epollFd) {
    callback_ = Napi::Persistent(cb.As<Napi::Function>());
    async_ = new Napi::AsyncContext(env_, "ebpf:reader");
    Allocate(batchBytes_ + kRoom);
    uv_loop_t *loop = nullptr;
    napi_get_uv_event_loop(env_, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, epollFd);
    timer_ = new uv_timer_t;
    timer_->data = this;
    uv_timer_init(loop, timer_);
    // The poll handle keeps the process alive while the reader is open; the
    // timer alone must not.
    uv_unref(reinterpret_cast<uv_handle_t *>(timer_));
    idle_ = new uv_idle_t;
    idle_->data = this;
    uv_idle_init(loop, idle_);
    Resume();
  }

  void Resume() {
    paused_ = false;
    uv_poll_start(poll_, UV_READABLE, [](uv_poll_t *h, int status, int events) {
      static_cast<ReaderBase *>(h->data)->Drain();
    });
    Continue();
  }

  void Pause() {
    paused_ = true;
    if (poll_) uv_poll_stop(poll_);
    if (timer_) uv_timer_stop(timer_);
    if (idle_) uv_idle_stop(idle_);
  }

  // Next drain after the quiet interval, unless the kernel wakes us first.
  void Arm() {
    uv_timer_start(timer_, [](uv_timer_t *h) { static_cast<ReaderBase *>(h->data)->Drain(); }, intervalMs_, 0);
  }

  // Next drain on the next loop turn, after pending I/O: a full batch left
  // records behind. (A 0 ms timer re-armed from its own callback would keep
  // libuv's timer phase spinning; an idle handle yields to I/O first.)
  void Continue() {
    uv_idle_start(idle_, [](uv_idle_t *h) {
      uv_idle_stop(h);
      static_cast<ReaderBase *>(h->data)->Drain();
    });
  }

  // Fills the batch buffer from libbpf: false when nothing came.
  bool Fill() {
    used_ = 0;
    count_ = 0;
    full_ = false;
    if (!Ready()) return false;
    draining_ = true;
    Consume();
    draining_ = false;
    return count_ > 0;
  }

  // One bounded batch: consume, then hand it to JavaScript.
  void Drain() {
    if (closed_ || paused_ || draining_) return;
    Napi::HandleScope scope(env_);
    bool got = Fill();
    bool more = full_;
    if (env_.IsExceptionPending()) {
      napi_fatal_exception(env_, env_.GetAndClearPendingException().Value());
      return;
    }
    if (got) Deliver();
    if (closed_ || paused_) return;
    if (more) Continue();
    else Arm();
  }

  // callback(buffer, count, byteLength): the same buffer every time (until a
  // record too large for it moved the reader to a larger one). A callback
  // that calls flush() gets the next batch written over this one: the
  // TypeScript side finishes reading this batch before it does.
  void Deliver() {
    Napi::HandleScope scope(env_);
    napi_value args[3] = {batch_.Value(), Napi::Number::New(env_, count_), Napi::Number::New(env_, static_cast<double>(used_))};
    used_ = 0;
    count_ = 0;
    napi_value result;
    napi_status st = napi_make_callback(env_, *async_, env_.Global(), callback_.Value(), 3, args, &result);
    if (st == napi_pending_exception || env_.IsExceptionPending()) {
      Napi::Error e = env_.GetAndClearPendingException();
      napi_fatal_exception(env_, e.Value());
    }
  }

  // Synchronous drain of everything available (for a final flush at exit).
  uint32_t Flush() {
    if (closed_ || draining_) return 0;
    Napi::HandleScope scope(env_);
    uint32_t total = 0;
    for (int i = 0; i < 1000; i++) {
      bool got = Fill();
      if (env_.IsExceptionPending()) break;  // thrown to the caller of flush()
      if (!got) break;
      total += count_;
      bool more = full_;
      Deliver();
      if (closed_ || !more) break;
    }
    return total;
  }

  void CloseHandles() {
    if (closed_) return;
    closed_ = true;
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      poll_ = nullptr;
    }
    if (idle_) {
      uv_idle_stop(idle_);
      uv_close(reinterpret_cast<uv_handle_t *>(idle_), [](uv_handle_t *h) { delete reinterpret_cast<uv_idle_t *>(h); });
      idle_ = nullptr;
    }
    if (timer_) {
      uv_timer_stop(timer_);
      uv_close(reinterpret_cast<uv_handle_t *>(timer_), [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
      timer_ = nullptr;
    }
    // Closing from inside our own callback is fine: libbpf's loop has returned
    // before Deliver() runs, so its buffers are not in use.
    FreeBuffers();
    callback_.Reset();
    batch_.Reset();  // JavaScript may still hold the buffer; it is freed with it
    data_ = nullptr;
    cap_ = used_ = 0;
    delete async_;
    async_ = nullptr;
  }
};

// ---- ring buffers -------------------------------------------------------------

class RingReader : public Napi::ObjectWrap<RingReader>, public ReaderBase {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingReader",
                       {
                           InstanceMethod("close", &RingReader::JsClose),
                           InstanceMethod("pause", &RingReader::JsPause),
                           InstanceMethod("resume", &RingReader::JsResume),
                           InstanceMethod("flush", &RingReader::JsFlush),
                       });
  }

  // new RingReader(mapFds: number[], callback, { batchBytes, intervalMs })
  RingReader(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingReader>(info), ReaderBase(info.Env()) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0 || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "RingReader(mapFds, callback, options)").ThrowAsJavaScriptException();
      return;
    }
    if (!ReadOptions(info[2])) return;
    Napi::Array fds = info[0].As<Napi::Array>();
    sources_.resize(fds.Length());
    for (uint32_t i = 0; i < fds.Length(); i++) {
      sources_[i] = {this, i};
      int fd = fds.Get(i).ToNumber().Int32Value();
      LogCapture capture;
      if (i == 0) {
        rb_ = ring_buffer__new(fd, OnSample, &sources_[i], nullptr);
        if (!rb_) {
          ThrowErrno(env, "ring_buffer__new", errno);
          return;
        }
      } else if (ring_buffer__add(rb_, fd, OnSample, &sources_[i])) {
        int err = errno;
        FreeBuffers();
        ThrowErrno(env, "ring_buffer__add", err);
        return;
      }
    }
    Start(info[1], ring_buffer__epoll_fd(rb_));
  }

  ~RingReader() override { CloseHandles(); }

 private:
  struct Source {
    RingReader *self;
    uint32_t index;
  };
  ring_buffer *rb_ = nullptr;
  std::vector<Source> sources_;

  static int OnSample(void *ctx, void *data, size_t len) {
    auto *src = static_cast<Source *>(ctx);
    src->self->Append(data, static_cast<uint32_t>(len), src->index);
    // A negative return stops libbpf's loop right after this record, which
    // libbpf has already marked consumed: that is how a batch is bounded.
    return src->self->full_ ? -E2BIG : 0;
  }

  int Consume() override { return rb_ ? ring_buffer__consume(rb_) : 0; }
  void FreeBuffers() override {
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
  }

};

// ---- perf buffers -------------------------------------------------------------

class PerfReader : public Napi::ObjectWrap<PerfReader>, public ReaderBase {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PerfReader",
                       {
                           InstanceMethod("close", &PerfReader::JsClose),
                           InstanceMethod("pause", &PerfReader::JsPause),
                           InstanceMethod("resume", &PerfReader::JsResume),
                           InstanceMethod("flush", &PerfReader::JsFlush),
                           InstanceMethod("lost", &PerfReader::JsLost),
                       });
  }

  // new PerfReader(mapFd, pagesPerCpu, callback, { batchBytes, intervalMs, wakeupBytes })
  // wakeupBytes: 0 wakes the reader on every sample.
  PerfReader(const Napi::CallbackInfo &info) : Napi::ObjectWrap<PerfReader>(info), ReaderBase(info.Env()) {
    Napi::Env env = info.Env();
    if (!info[2].IsFunction()) {
      Napi::TypeError::New(env, "PerfReader(mapFd, pagesPerCpu, callback, options)").ThrowAsJavaScriptException();
      return;
    }
    if (!ReadOptions(info[3])) return;
    int fd = info[0].ToNumber().Int32Value();
    size_t pages = info[1].ToNumber().Uint32Value();
    Napi::Object opts = info[3].As<Napi::Object>();
    Napi::Value wv = opts.Get("wakeupBytes");
    uint32_t wakeup = wv.IsNumber() ? wv.As<Napi::Number>().Uint32Value() : 0;

    // The attr libbpf would use, except for the wake-up policy: with a
    // watermark the kernel wakes us once that many bytes are waiting instead
    // of on every sample; the timer drains the rest.
    struct perf_event_attr attr = {};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_BPF_OUTPUT;
    attr.sample_type = PERF_SAMPLE_RAW;
    attr.sample_period = 1;
    if (wakeup > 0) {
      attr.watermark = 1;
      attr.wakeup_watermark = wakeup;
    } else {
      attr.wakeup_events = 1;
    }
    LogCapture capture;
    pb_ = perf_buffer__new_raw(fd, pages, &attr, OnEvent, this, nullptr);
    if (!pb_) {
      ThrowErrno(env, "perf_buffer__new_raw", errno);
      return;
    }
    Start(info[2], perf_buffer__epoll_fd(pb_));
  }

  ~PerfReader() override { CloseHandles(); }

 private:
  perf_buffer *pb_ = nullptr;
  double lost_ = 0;

  struct Sample {
    struct perf_event_header header;
    uint32_t size;
    uint8_t data[];
  };
  struct Lost {
    struct perf_event_header header;
    uint64_t id;
    uint64_t lost;
  };

  static enum bpf_perf_event_ret OnEvent(void *ctx, int cpu, struct perf_event_header *e) {
    auto *self = static_cast<PerfReader *>(ctx);
    if (e->type == PERF_RECORD_SAMPLE) {
      auto *s = reinterpret_cast<Sample *>(e);
      self->Append(s->data, s->size, static_cast<uint32_t>(cpu));
    } else if (e->type == PERF_RECORD_LOST) {
      self->lost_ += static_cast<double>(reinterpret_cast<Lost *>(e)->lost);
    }
    // DONE stops this CPU's buffer after this record (already consumed).
    return self->full_ ? LIBBPF_PERF_EVENT_DONE : LIBBPF_PERF_EVENT_CONT;
  }

  int Consume() override { return pb_ ? perf_buffer__consume(pb_) : 0; }
  void FreeBuffers() override {
    if (pb_) perf_buffer__free(pb_);
    pb_ = nullptr;
  }

  Napi::Value JsLost(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), lost_); }
};

}  // namespace

Napi::Object InitReaders(Napi::Env env, Napi::Object exports) {
  exports.Set("RingReader", RingReader::Define(env));
  exports.Set("PerfReader", PerfReader::Define(env));
  return exports;
}
