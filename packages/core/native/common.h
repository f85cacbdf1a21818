// Shared bits of the native layer: error helpers and the libbpf log capture.
//
// The native layer stays thin: it makes libbpf and system calls and hands back
// fds, numbers and bytes. Validation and meaning live in TypeScript.
#pragma once

#include <napi.h>
#include <string>

// Throws a JS Error for a failed operation: `op` (and the message) names the
// operation (a libbpf function or system call, e.g. "bpf_object__load"),
// `errno` is the positive error number and, when libbpf printed anything
// during the call, `libbpfLog` holds it. No wording here: TypeScript turns
// this into a message (src/native/errno.ts). Returns undefined.
Napi::Value ThrowErrno(Napi::Env env, const char *op, int err);

// Collects what libbpf prints (warnings; debug too when verbose) while alive,
// so a failing call can carry libbpf's explanation (e.g. the verifier log).
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  static std::string Take();  // what the innermost capture collected so far
};


// Native entry points of each file.
Napi::Object InitObject(Napi::Env env, Napi::Object exports);
Napi::Object InitReaders(Napi::Env env, Napi::Object exports);
Napi::Object InitSys(Napi::Env env, Napi::Object exports);
