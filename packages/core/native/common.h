// Shared bits of the native layer: error helpers and the libbpf log capture.
//
// The native layer stays thin: it makes libbpf and system calls and hands back
// fds, numbers and bytes. Validation and meaning live in TypeScript.
#pragma once

#include <napi.h>
#include <string>

// Throws a JS Error carrying `code` (errno name), `errno` and, when libbpf
// printed anything during the call, `libbpfLog`. Returns an empty value.
Napi::Value ThrowErrno(Napi::Env env, const std::string &what, int err);

// Collects what libbpf prints (warnings; debug too when verbose) while alive,
// so a failing call can carry libbpf's explanation (e.g. the verifier log).
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  static std::string Take();  // what the innermost capture collected so far
};

void SetLibbpfVerbose(bool on);

// Native entry points of each file.
Napi::Object InitObject(Napi::Env env, Napi::Object exports);
Napi::Object InitReaders(Napi::Env env, Napi::Object exports);
Napi::Object InitSys(Napi::Env env, Napi::Object exports);
