// Plain system calls the TypeScript layer needs: map operations on fds, perf
// event fds for sampling programs, and mounting tracefs.
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

uint8_t *Bytes(const Napi::Value &v) { return v.As<Napi::Buffer<uint8_t>>().Data(); }

// mapLookup(fd, key, valueOut) → boolean (false when the key is absent)
Napi::Value MapLookup(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_lookup_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]), Bytes(info[2]));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "bpf_map_lookup_elem", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapLookupAndDelete(fd, key, valueOut) → boolean
Napi::Value MapLookupAndDelete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_lookup_and_delete_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]), Bytes(info[2]));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "bpf_map_lookup_and_delete_elem", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapUpdate(fd, key, value, flags)
Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_update_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]), Bytes(info[2]),
                                info[3].ToNumber().Int64Value());
  if (err) return ThrowErrno(env, "bpf_map_update_elem", errno);
  return env.Undefined();
}

// mapDelete(fd, key) → boolean (false when the key is absent)
Napi::Value MapDelete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_delete_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "bpf_map_delete_elem", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapNextKey(fd, key | null, nextOut) → boolean (false at the end)
Napi::Value MapNextKey(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const void *key = info[1].IsBuffer() ? Bytes(info[1]) : nullptr;
  int err = bpf_map_get_next_key(info[0].ToNumber().Int32Value(), key, Bytes(info[2]));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "bpf_map_get_next_key", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapLookupBatch(fd, inBatch | null, outBatch, keysOut, valuesOut, count, andDelete)
//   → { count, done }. Not every map type supports it: ENOTSUP/EINVAL come
//   back as an error with that code, and the caller falls back to iteration.
Napi::Value MapLookupBatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].ToNumber().Int32Value();
  void *in = info[1].IsBuffer() ? Bytes(info[1]) : nullptr;
  __u32 count = info[5].ToNumber().Uint32Value();
  bool andDelete = info[6].ToBoolean().Value();
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int err = andDelete ? bpf_map_lookup_and_delete_batch(fd, in, Bytes(info[2]), Bytes(info[3]), Bytes(info[4]), &count, &opts)
                      : bpf_map_lookup_batch(fd, in, Bytes(info[2]), Bytes(info[3]), Bytes(info[4]), &count, &opts);
  bool done = false;
  if (err) {
    if (errno != ENOENT) return ThrowErrno(env, andDelete ? "bpf_map_lookup_and_delete_batch" : "bpf_map_lookup_batch", errno);
    done = true;  // ENOENT: no more entries; `count` holds the last ones
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("count", count);
  r.Set("done", done);
  return r;
}

// perfEventOpen({ type, config, cpu, pid, period | frequency }) → fd
Napi::Value PerfEventOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  struct perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = o.Get("type").ToNumber().Uint32Value();
  attr.config = o.Get("config").ToNumber().Int64Value();
  if (o.Has("frequency")) {
    attr.freq = 1;
    attr.sample_freq = o.Get("frequency").ToNumber().Int64Value();
  } else {
    attr.sample_period = o.Get("period").ToNumber().Int64Value();
  }
  int pid = o.Has("pid") ? o.Get("pid").ToNumber().Int32Value() : -1;
  int cpu = o.Has("cpu") ? o.Get("cpu").ToNumber().Int32Value() : -1;
  int fd = syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "perf_event_open", errno);
  return Napi::Number::New(env, fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  close(info[0].ToNumber().Int32Value());
  return info.Env().Undefined();
}

// mountTracefs(path): what `mount -t tracefs nodev PATH` does.
Napi::Value MountTracefs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString().Utf8Value();
  if (mount("nodev", path.c_str(), "tracefs", 0, nullptr)) return ThrowErrno(env, "mount", errno);
  return env.Undefined();
}

// probeUprobeMulti() → boolean: does this kernel have uprobe_multi links that
// filter by process (Linux 6.9+; 6.6-6.8 filtered by thread)? Asked the way
// libbpf asks: a link for the directory "/" fails with EBADF where the link
// type exists, and with pid -1 with EINVAL where the PID check was fixed.
Napi::Value ProbeUprobeMulti(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                   // exit
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = static_cast<bpf_attach_type>(kBpfTraceUprobeMulti));
  int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, nullptr, "GPL", insns, 2, &opts);
  if (prog < 0) return Napi::Boolean::New(env, false);
  uint64_t offset = 0;
  auto create = [&](int pid) {
    UprobeMultiLinkAttr attr = {};
    attr.prog_fd = prog;
    attr.attach_type = kBpfTraceUprobeMulti;
    attr.path = reinterpret_cast<uint64_t>("/");
    attr.offsets = reinterpret_cast<uint64_t>(&offset);
    attr.cnt = 1;
    attr.pid = static_cast<uint32_t>(pid);
    int fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    return err;
  };
  bool ok = create(0) == EBADF && create(-1) == EINVAL;
  close(prog);
  return Napi::Boolean::New(env, ok);
}

// objGet(path) → fd: a pinned BPF object (map, program, link) in a bpffs, by
// path, as BPF_OBJ_GET opens it. The caller closes the fd (closeFd).
Napi::Value ObjGet(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString().Utf8Value();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return ThrowErrno(env, "bpf_obj_get", errno);
  return Napi::Number::New(env, fd);
}

// mapInfo(fd) → { type, keySize, valueSize, maxEntries, name }: what the
// kernel says about the map behind an fd (type as libbpf names it), or throws
// EINVAL from bpf_obj_get_info_by_fd when the fd is not a map.
Napi::Value MapInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct bpf_map_info m = {};
  __u32 len = sizeof(m);
  if (bpf_obj_get_info_by_fd(info[0].ToNumber().Int32Value(), &m, &len)) return ThrowErrno(env, "bpf_obj_get_info_by_fd", errno);
  Napi::Object o = Napi::Object::New(env);
  const char *type = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(m.type));
  o.Set("type", type ? type : "unknown");
  o.Set("keySize", m.key_size);
  o.Set("valueSize", m.value_size);
  o.Set("maxEntries", m.max_entries);
  o.Set("name", m.name);
  return o;
}

Napi::Value PossibleCpus(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), libbpf_num_possible_cpus());
}

}  // namespace

Napi::Object InitSys(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapLookupAndDelete", Napi::Function::New(env, MapLookupAndDelete));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
  exports.Set("perfEventOpen", Napi::Function::New(env, PerfEventOpen));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("mountTracefs", Napi::Function::New(env, MountTracefs));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("probeUprobeMulti", Napi::Function::New(env, ProbeUprobeMulti));
  return exports;
}
