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
std::vector<std::string> g_quiet;       // set from TypeScript: notices to drop
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
  // Links are destroyed on worker threads too (object.cc): what libbpf says
  // there belongs to no capture, and the capture stack and the filter are
  // the JS thread's.
  bool js = pthread_equal(pthread_self(), g_js_thread);
  if (js && level != LIBBPF_DEBUG) {
    for (const auto &q : g_quiet)
      if (line.find(q) != std::string::npos) return 0;
  }
  if (g_verbose) fputs(line.c_str(), stderr);
  if (js && level != LIBBPF_DEBUG && !g_captures.empty()) g_captures.back()->append(line);
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

Napi::Value ThrowErrno(Napi::Env env, const char *op, int err) {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, op);
  e.Set("op", Napi::String::New(env, op));
  e.Set("errno", Napi::Number::New(env, err));
  std::string log = LogCapture::Take();
  if (!log.empty()) e.Set("libbpfLog", Napi::String::New(env, log));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// setVerbose(on): libbpf's debug output (and everything else it prints) to stderr.
static Napi::Value SetVerbose(const Napi::CallbackInfo &info) {
  g_verbose = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

// setLogFilter(substrings): libbpf notices (not debug lines) containing any of
// these are expected and dropped: neither printed nor captured.
static Napi::Value SetLogFilter(const Napi::CallbackInfo &info) {
  g_quiet.clear();
  if (info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) g_quiet.push_back(a.Get(i).ToString().Utf8Value());
  }
  return info.Env().Undefined();
}

// strerror(errno): the description of an error number, libbpf's own ones
// (4000 and up: "Invalid ELF format"...) included.
static Napi::Value StrError(const Napi::CallbackInfo &info) {
  int err = info[0].ToNumber().Int32Value();
  char buf[256];
  if (libbpf_strerror(err < 0 ? -err : err, buf, sizeof(buf))) return Napi::String::New(info.Env(), strerror(err < 0 ? -err : err));
  return Napi::String::New(info.Env(), buf);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  g_js_thread = pthread_self();
  libbpf_set_print(PrintFn);
  exports.Set("setVerbose", Napi::Function::New(env, SetVerbose));
  exports.Set("setLogFilter", Napi::Function::New(env, SetLogFilter));
  exports.Set("strerror", Napi::Function::New(env, StrError));
  exports.Set("libbpfVersion", Napi::String::New(env, libbpf_version_string()));
  InitObject(env, exports);
  InitReaders(env, exports);
  InitSys(env, exports);
  return exports;
}

NODE_API_MODULE(ebpf_core, Init)
