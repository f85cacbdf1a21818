// Module entry: libbpf's print callback, error helpers, and the exports of each part.
#include "common.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <vector>

namespace {
bool g_verbose = false;
std::vector<std::string *> g_captures;  // stack: calls nest (load inside attach)
pthread_t g_js_thread;                  // captures belong to calls made on this thread

int PrintFn(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG && !g_verbose) return 0;
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string line(n, '\0');
  vsnprintf(&line[0], n + 1, fmt, ap);
  // "skipping unrecognized data section" is our .ebpf.types marker: expected.
  if (level == LIBBPF_INFO && line.find(".ebpf.types") != std::string::npos) return 0;
  if (g_verbose) fputs(line.c_str(), stderr);
  // Links are destroyed on worker threads too (object.cc): what libbpf says
  // there belongs to no capture, and the capture stack is the JS thread's.
  if (!pthread_equal(pthread_self(), g_js_thread)) return 0;
  if (level != LIBBPF_DEBUG && !g_captures.empty()) g_captures.back()->append(line);
  return 0;
}
}  // namespace

LogCapture::LogCapture() { g_captures.push_back(new std::string()); }
LogCapture::~LogCapture() {
  delete g_captures.back();
  g_captures.pop_back();
}
std::string LogCapture::Take() {
  if (g_captures.empty()) return std::string();
  std::string s = *g_captures.back();
  g_captures.back()->clear();
  return s;
}

void SetLibbpfVerbose(bool on) { g_verbose = on; }

Napi::Value ThrowErrno(Napi::Env env, const std::string &what, int err) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  const char *name = nullptr;
  switch (err) {
    case EPERM: name = "EPERM"; break;
    case ENOENT: name = "ENOENT"; break;
    case ESRCH: name = "ESRCH"; break;
    case EINVAL: name = "EINVAL"; break;
    case EACCES: name = "EACCES"; break;
    case EBUSY: name = "EBUSY"; break;
    case EEXIST: name = "EEXIST"; break;
    case E2BIG: name = "E2BIG"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case ENOSPC: name = "ENOSPC"; break;
    case EOPNOTSUPP: name = "EOPNOTSUPP"; break;
    case EBADF: name = "EBADF"; break;
    case ENOSYS: name = "ENOSYS"; break;
    case ENODEV: name = "ENODEV"; break;
    case ENOEXEC: name = "ENOEXEC"; break;
    case EFAULT: name = "EFAULT"; break;
    default: break;
  }
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, name ? name : ("E" + std::to_string(err))));
  std::string log = LogCapture::Take();
  if (!log.empty()) e.Set("libbpfLog", Napi::String::New(env, log));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

static Napi::Value SetVerbose(const Napi::CallbackInfo &info) {
  SetLibbpfVerbose(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  g_js_thread = pthread_self();
  libbpf_set_print(PrintFn);
  exports.Set("setVerbose", Napi::Function::New(env, SetVerbose));
  exports.Set("libbpfVersion", Napi::String::New(env, libbpf_version_string()));
  InitObject(env, exports);
  InitReaders(env, exports);
  InitSys(env, exports);
  return exports;
}

NODE_API_MODULE(ebpf_core, Init)
