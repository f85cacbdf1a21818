// Shared bits of the native layer: error helpers and the libbpf log capture.
//
// The native layer stays thin: it makes libbpf and system calls and hands back
// fds, numbers and bytes. Validation and meaning live in TypeScript.
#pragma once

#include <napi.h>
#include <cstdint>
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


// union bpf_attr's link_create with its uprobe_multi member (uapi/linux/bpf.h,
// Linux 6.6): libbpf 1.1 predates uprobe_multi links, so they are made with
// a raw BPF_LINK_CREATE.
struct UprobeMultiLinkAttr {
  uint32_t prog_fd, target_fd, attach_type, flags;
  uint64_t path, offsets, ref_ctr_offsets, cookies;
  uint32_t cnt, multi_flags, pid;
  uint32_t pad[9];
};
constexpr uint32_t kBpfTraceUprobeMulti = 48;  // enum bpf_attach_type: BPF_TRACE_UPROBE_MULTI

// Native entry points of each file.
Napi::Object InitObject(Napi::Env env, Napi::Object exports);
Napi::Object InitReaders(Napi::Env env, Napi::Object exports);
Napi::Object InitSys(Napi::Env env, Napi::Object exports);
