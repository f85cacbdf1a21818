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
    return ThrowErrno(env, "map lookup", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapLookupAndDelete(fd, key, valueOut) → boolean
Napi::Value MapLookupAndDelete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_lookup_and_delete_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]), Bytes(info[2]));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "map lookup-and-delete", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapUpdate(fd, key, value, flags)
Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_update_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]), Bytes(info[2]),
                                info[3].ToNumber().Int64Value());
  if (err) return ThrowErrno(env, "map update", errno);
  return env.Undefined();
}

// mapDelete(fd, key) → boolean (false when the key is absent)
Napi::Value MapDelete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int err = bpf_map_delete_elem(info[0].ToNumber().Int32Value(), Bytes(info[1]));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "map delete", errno);
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
    return ThrowErrno(env, "map next key", errno);
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
    if (errno != ENOENT) return ThrowErrno(env, "map batch lookup", errno);
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
  if (mount("nodev", path.c_str(), "tracefs", 0, nullptr)) return ThrowErrno(env, "mount tracefs on " + path, errno);
  return env.Undefined();
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
  return exports;
}
