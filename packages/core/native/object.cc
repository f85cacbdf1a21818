// NativeObject: one BPF object (libbpf's struct bpf_object) from open to close.
//
// Lifecycle: construct (bpf_object__open_mem) → configure (autoload, map sizes,
// initial values of globals) → load() → attach*() → close(). close() is
// idempotent and also runs from the destructor, so a forgotten object still
// releases its programs, maps and links.
#include "common.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <vector>

namespace {

// One attachment: a libbpf link, or the fd of a BPF link this file created
// with a raw BPF_LINK_CREATE (uprobe_multi, which libbpf 1.1 predates).
struct LinkSlot {
  bpf_link *link = nullptr;
  int fd = -1;
  explicit operator bool() const { return link != nullptr || fd >= 0; }
  void Destroy() {
    if (link) bpf_link__destroy(link);
    if (fd >= 0) close(fd);
    link = nullptr;
    fd = -1;
  }
};

// Destroys links concurrently, one thread per link (up to 64), and returns
// when all are gone. Detaching a uprobe closes its perf event, and the kernel
// waits there for several RCU grace periods (~0.1-0.5 s per link); waits that
// overlap share their grace periods, so N links take about as long as one
// instead of N times as long. A thread that cannot be started leaves its
// share to the others (or to the caller).
struct DestroyQueue {
  std::vector<LinkSlot> links;
  std::atomic<size_t> next{0};
  void Drain() {
    for (size_t i; (i = next.fetch_add(1)) < links.size();) links[i].Destroy();
  }
  static void *Run(void *self) {
    static_cast<DestroyQueue *>(self)->Drain();
    return nullptr;
  }
};

void DestroyLinks(std::vector<LinkSlot> links) {
  if (links.size() <= 1) {
    for (auto &l : links) l.Destroy();
    return;
  }
  DestroyQueue q;
  q.links = std::move(links);
  std::vector<pthread_t> threads;
  size_t want = q.links.size() < 64 ? q.links.size() - 1 : 63;  // the caller drains too
  for (size_t i = 0; i < want; i++) {
    pthread_t t;
    if (pthread_create(&t, nullptr, &DestroyQueue::Run, &q) != 0) break;
    threads.push_back(t);
  }
  q.Drain();
  for (auto t : threads) pthread_join(t, nullptr);
}

// detachAsync(): DestroyLinks on a libuv worker thread, then resolves the Promise.
class DetachWorker : public Napi::AsyncWorker {
 public:
  DetachWorker(Napi::Env env, std::vector<LinkSlot> links)
      : Napi::AsyncWorker(env, "ebpf:detach"), deferred_(Napi::Promise::Deferred::New(env)), links_(std::move(links)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { DestroyLinks(std::move(links_)); }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<LinkSlot> links_;
};

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeObject",
                       {
                           InstanceMethod("programs", &NativeObject::Programs),
                           InstanceMethod("maps", &NativeObject::Maps),
                           InstanceMethod("globals", &NativeObject::Globals),
                           InstanceMethod("setAutoload", &NativeObject::SetAutoload),
                           InstanceMethod("setMaxEntries", &NativeObject::SetMaxEntries),
                           InstanceMethod("reuseMapFd", &NativeObject::ReuseMapFd),
                           InstanceMethod("writeGlobal", &NativeObject::WriteGlobal),
                           InstanceMethod("readGlobal", &NativeObject::ReadGlobal),
                           InstanceMethod("load", &NativeObject::Load),
                           InstanceMethod("attach", &NativeObject::Attach),
                           InstanceMethod("attachUprobe", &NativeObject::AttachUprobe),
                           InstanceMethod("attachUsdt", &NativeObject::AttachUsdt),
                           InstanceMethod("attachUprobeMulti", &NativeObject::AttachUprobeMulti),
                           InstanceMethod("setExpectedAttachType", &NativeObject::SetExpectedAttachType),
                           InstanceMethod("attachPerfEvent", &NativeObject::AttachPerfEvent),
                           InstanceMethod("detach", &NativeObject::Detach),
                           InstanceMethod("detachAsync", &NativeObject::DetachAsync),
                           InstanceMethod("linkCount", &NativeObject::LinkCount),
                           InstanceMethod("mapFd", &NativeObject::MapFd),
                           InstanceMethod("programFd", &NativeObject::ProgramFd),
                           InstanceMethod("close", &NativeObject::Close),
                       });
  }

  NativeObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeObject>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer() || !info[1].IsString()) {
      Napi::TypeError::New(env, "NativeObject(buffer, name)").ThrowAsJavaScriptException();
      return;
    }
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    // libbpf reads the ELF image until load, so it must outlive open: keep a copy.
    image_.assign(buf.Data(), buf.Data() + buf.Length());
    name_ = info[1].As<Napi::String>().Utf8Value();
    // Optional: a BTF file to resolve CO-RE relocations against instead of the
    // kernel's full BTF (see btf-cache.ts).
    if (info[2].IsString()) btfPath_ = info[2].As<Napi::String>().Utf8Value();
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name_.c_str(),
                .btf_custom_path = btfPath_.empty() ? nullptr : btfPath_.c_str());
    LogCapture capture;
    obj_ = bpf_object__open_mem(image_.data(), image_.size(), &opts);
    if (!obj_) {
      int err = errno;
      ThrowErrno(env, "bpf_object__open_mem", err);
    }
  }

  ~NativeObject() override { Release(); }

 private:
  bpf_object *obj_ = nullptr;
  std::vector<uint8_t> image_;
  std::string name_;
  std::string btfPath_;
  std::vector<LinkSlot> links_;  // index = link id; empty once detached
  bool loaded_ = false;
  struct Mapping {
    void *addr;
    size_t len;
  };
  // After load: each global-variable section mapped onto the kernel map's
  // memory, so reads and writes need no system call. (libbpf 1.1 does this
  // only in its skeleton loader; bpf_map__initial_value() would keep pointing
  // at the pre-load copy.)
  std::map<const bpf_map *, Mapping> mmaped_;

  void Release() {
    for (auto &m : mmaped_) munmap(m.second.addr, m.second.len);
    mmaped_.clear();
    std::vector<LinkSlot> live;
    for (auto &l : links_) {
      if (l) live.push_back(l);
      l = LinkSlot();
    }
    DestroyLinks(std::move(live));
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
    image_.clear();
    image_.shrink_to_fit();
  }

  bool Alive(Napi::Env env) {
    if (obj_) return true;
    ThrowErrno(env, "closed", EBADF);
    return false;
  }

  bpf_program *FindProgram(Napi::Env env, const Napi::Value &v) {
    std::string name = v.ToString().Utf8Value();
    bpf_program *p = bpf_object__find_program_by_name(obj_, name.c_str());
    if (!p) ThrowErrno(env, "find_program", ENOENT);
    return p;
  }

  bpf_map *FindMap(Napi::Env env, const Napi::Value &v) {
    std::string name = v.ToString().Utf8Value();
    bpf_map *m = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!m) ThrowErrno(env, "find_map", ENOENT);
    return m;
  }

  Napi::Value AddLink(Napi::Env env, bpf_link *link, const char *op) {
    if (!link) {
      int err = errno;
      return ThrowErrno(env, op, err);
    }
    LinkSlot slot;
    slot.link = link;
    links_.push_back(slot);
    return Napi::Number::New(env, links_.size() - 1);
  }

  Napi::Value Programs(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    Napi::Array arr = Napi::Array::New(env);
    bpf_program *p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, obj_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      const char *type = libbpf_bpf_prog_type_str(bpf_program__type(p));
      o.Set("type", type ? type : "unknown");
      o.Set("autoload", bpf_program__autoload(p));
      arr.Set(i++, o);
    }
    return arr;
  }

  Napi::Value Maps(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    Napi::Array arr = Napi::Array::New(env);
    bpf_map *m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      const char *type = libbpf_bpf_map_type_str(bpf_map__type(m));
      o.Set("type", type ? type : "unknown");
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("internal", bpf_map__is_internal(m));
      o.Set("fd", bpf_map__fd(m));
      arr.Set(i++, o);
    }
    return arr;
  }

  // Global variables, from the object's BTF: each DATASEC (.rodata, .bss,
  // .data...) lists its variables with offset and size; libbpf backs each such
  // section with an internal map whose name ends with the section name.
  Napi::Value Globals(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    Napi::Array arr = Napi::Array::New(env);
    const struct btf *btf = bpf_object__btf(obj_);
    if (!btf) return arr;
    uint32_t n = btf__type_cnt(btf), out = 0;
    for (uint32_t id = 1; id < n; id++) {
      const struct btf_type *t = btf__type_by_id(btf, id);
      if (!btf_is_datasec(t)) continue;
      std::string sec = btf__name_by_offset(btf, t->name_off);
      const char *mapName = nullptr;
      bpf_map *m;
      bpf_object__for_each_map(m, obj_) {
        if (!bpf_map__is_internal(m)) continue;
        std::string mn = bpf_map__name(m);
        if (mn.size() >= sec.size() && mn.compare(mn.size() - sec.size(), sec.size(), sec) == 0) {
          mapName = bpf_map__name(m);
          break;
        }
      }
      if (!mapName) continue;  // e.g. .maps, license, .ebpf.types: no data map
      const struct btf_var_secinfo *vs = btf_var_secinfos(t);
      for (uint16_t j = 0; j < btf_vlen(t); j++, vs++) {
        const struct btf_type *var = btf__type_by_id(btf, vs->type);
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", btf__name_by_offset(btf, var->name_off));
        o.Set("section", sec);
        o.Set("map", mapName);
        o.Set("offset", vs->offset);
        o.Set("size", vs->size);
        arr.Set(out++, o);
      }
    }
    return arr;
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    int err = bpf_program__set_autoload(p, info[1].ToBoolean().Value());
    if (err) return ThrowErrno(env, "bpf_program__set_autoload", err);
    return env.Undefined();
  }

  // setExpectedAttachType(program, type): the attach type the program is
  // verified for (e.g. BPF_TRACE_UPROBE_MULTI, which libbpf 1.1 cannot infer
  // from a section name). Before load.
  Napi::Value SetExpectedAttachType(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    int err = bpf_program__set_expected_attach_type(p, static_cast<bpf_attach_type>(info[1].ToNumber().Uint32Value()));
    if (err) return ThrowErrno(env, "bpf_program__set_expected_attach_type", err);
    return env.Undefined();
  }

  Napi::Value SetMaxEntries(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_map *m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    int err = bpf_map__set_max_entries(m, info[1].ToNumber().Uint32Value());
    if (err) return ThrowErrno(env, "bpf_map__set_max_entries", err);
    return env.Undefined();
  }

  // reuseMapFd(map, fd): before load, the map becomes the existing kernel map
  // behind fd (libbpf dups the fd and takes the map's type and sizes from it);
  // load creates no map for it. The caller keeps (and closes) its own fd.
  Napi::Value ReuseMapFd(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_map *m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    int err = bpf_map__reuse_fd(m, info[1].ToNumber().Int32Value());
    if (err) return ThrowErrno(env, "bpf_map__reuse_fd", -err);
    return env.Undefined();
  }

  // The memory behind a global-variable section: libbpf's copy before load,
  // the kernel map itself (memory-mapped) after load.
  uint8_t *SectionData(Napi::Env env, bpf_map *m, size_t offset, size_t len) {
    size_t size = bpf_map__value_size(m);
    if (loaded_) {
      auto it = mmaped_.find(m);
      if (it == mmaped_.end() || offset + len > size) {
        ThrowErrno(env, "global_unmapped", EOPNOTSUPP);
        return nullptr;
      }
      return static_cast<uint8_t *>(it->second.addr) + offset;
    }
    // libbpf 1.1 returns const; the memory is writable until load (.rodata) or always (.bss, .data).
    void *data = const_cast<void *>(bpf_map__initial_value(m, &size));
    if (!data || offset + len > size) {
      ThrowErrno(env, "global_range", ERANGE);
      return nullptr;
    }
    return static_cast<uint8_t *>(data) + offset;
  }

  Napi::Value WriteGlobal(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_map *m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    std::string mn = bpf_map__name(m);
    // After load, .rodata is mapped read-only: writing would crash the process.
    if (loaded_ && mn.find(".rodata") != std::string::npos) {
      return ThrowErrno(env, "global_readonly", EPERM);
    }
    auto bytes = info[2].As<Napi::Buffer<uint8_t>>();
    uint8_t *dst = SectionData(env, m, info[1].ToNumber().Uint32Value(), bytes.Length());
    if (!dst) return env.Undefined();
    memcpy(dst, bytes.Data(), bytes.Length());
    return env.Undefined();
  }

  Napi::Value ReadGlobal(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_map *m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    size_t len = info[2].ToNumber().Uint32Value();
    uint8_t *src = SectionData(env, m, info[1].ToNumber().Uint32Value(), len);
    if (!src) return env.Undefined();
    return Napi::Buffer<uint8_t>::Copy(env, src, len);
  }

  Napi::Value Load(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    LogCapture capture;
    int err = bpf_object__load(obj_);
    if (err) return ThrowErrno(env, "bpf_object__load", err);
    loaded_ = true;
    long page = sysconf(_SC_PAGESIZE);
    bpf_map *m;
    bpf_object__for_each_map(m, obj_) {
      if (!bpf_map__is_internal(m) || !(bpf_map__map_flags(m) & BPF_F_MMAPABLE)) continue;
      size_t len = (bpf_map__value_size(m) + page - 1) / page * page;
      bool ro = bpf_map__map_flags(m) & BPF_F_RDONLY_PROG;  // .rodata is frozen: read-only
      void *addr = mmap(nullptr, len, PROT_READ | (ro ? 0 : PROT_WRITE), MAP_SHARED, bpf_map__fd(m), 0);
      if (addr != MAP_FAILED) mmaped_[m] = {addr, len};
    }
    // The ELF image is no longer needed once loaded.
    image_.clear();
    image_.shrink_to_fit();
    return env.Undefined();
  }

  Napi::Value Attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    LogCapture capture;
    return AddLink(env, bpf_program__attach(p), "bpf_program__attach");
  }

  // attachUprobe(prog, retprobe, pid, binaryPath, funcName | null, offset)
  Napi::Value AttachUprobe(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    bool retprobe = info[1].ToBoolean().Value();
    int pid = info[2].ToNumber().Int32Value();
    std::string binary = info[3].ToString().Utf8Value();
    std::string func = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
    size_t offset = static_cast<size_t>(info[5].ToNumber().Int64Value());
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .func_name = func.empty() ? nullptr : func.c_str());
    LogCapture capture;
    bpf_link *l = bpf_program__attach_uprobe_opts(p, pid, binary.c_str(), offset, &opts);
    return AddLink(env, l, "bpf_program__attach_uprobe_opts");
  }

  // attachUprobeMulti(prog, binaryPath, offsets: number[], cookies: bigint[] | null,
  //                   retprobe, pid): one BPF link (BPF_TRACE_UPROBE_MULTI,
  // Linux 6.6+) for uprobes at the given file offsets, made with a raw
  // BPF_LINK_CREATE. The program must have been loaded with that expected
  // attach type. pid <= 0: every process.
  Napi::Value AttachUprobeMulti(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    std::string binary = info[1].ToString().Utf8Value();
    Napi::Array offs = info[2].As<Napi::Array>();
    std::vector<uint64_t> offsets(offs.Length()), cookies;
    for (uint32_t i = 0; i < offs.Length(); i++) offsets[i] = static_cast<uint64_t>(offs.Get(i).ToNumber().Int64Value());
    if (info[3].IsArray()) {
      Napi::Array c = info[3].As<Napi::Array>();
      cookies.resize(offsets.size());
      for (uint32_t i = 0; i < c.Length() && i < cookies.size(); i++) {
        bool lossless;
        cookies[i] = c.Get(i).As<Napi::BigInt>().Uint64Value(&lossless);
      }
    }
    bool retprobe = info[4].ToBoolean().Value();
    int pid = info[5].ToNumber().Int32Value();
    UprobeMultiLinkAttr attr = {};
    attr.prog_fd = bpf_program__fd(p);
    attr.attach_type = kBpfTraceUprobeMulti;
    attr.path = reinterpret_cast<uint64_t>(binary.c_str());
    attr.offsets = reinterpret_cast<uint64_t>(offsets.data());
    attr.cookies = cookies.empty() ? 0 : reinterpret_cast<uint64_t>(cookies.data());
    attr.cnt = offsets.size();
    attr.multi_flags = retprobe ? 1 : 0;  // BPF_F_UPROBE_MULTI_RETURN
    attr.pid = pid > 0 ? pid : 0;
    int fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
    if (fd < 0) {
      int err = errno;
      return ThrowErrno(env, "bpf_link_create", err);
    }
    LinkSlot slot;
    slot.fd = fd;
    links_.push_back(slot);
    return Napi::Number::New(env, links_.size() - 1);
  }

  // attachUsdt(prog, pid, binaryPath, provider, name, cookie)
  Napi::Value AttachUsdt(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    int pid = info[1].ToNumber().Int32Value();
    std::string binary = info[2].ToString().Utf8Value();
    std::string provider = info[3].ToString().Utf8Value();
    std::string name = info[4].ToString().Utf8Value();
    LIBBPF_OPTS(bpf_usdt_opts, opts, .usdt_cookie = static_cast<__u64>(info[5].ToNumber().Int64Value()));
    LogCapture capture;
    bpf_link *l = bpf_program__attach_usdt(p, pid, binary.c_str(), provider.c_str(), name.c_str(), &opts);
    return AddLink(env, l, "bpf_program__attach_usdt");
  }

  // attachPerfEvent(prog, perfFd): the link takes ownership of perfFd.
  Napi::Value AttachPerfEvent(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    LogCapture capture;
    return AddLink(env, bpf_program__attach_perf_event(p, info[1].ToNumber().Int32Value()), "bpf_program__attach_perf_event");
  }

  Napi::Value Detach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    uint32_t id = info[0].ToNumber().Uint32Value();
    if (id < links_.size() && links_[id]) links_[id].Destroy();
    return env.Undefined();
  }

  // detachAsync(ids): takes the links out of the table now (detach() of them is
  // then a no-op) and destroys them concurrently off the JS thread; the
  // Promise resolves once the kernel has released them all.
  Napi::Value DetachAsync(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::vector<LinkSlot> take;
    if (info[0].IsArray()) {
      Napi::Array ids = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < ids.Length(); i++) {
        uint32_t id = ids.Get(i).ToNumber().Uint32Value();
        if (id < links_.size() && links_[id]) {
          take.push_back(links_[id]);
          links_[id] = LinkSlot();
        }
      }
    }
    auto *worker = new DetachWorker(env, std::move(take));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value LinkCount(const Napi::CallbackInfo &info) {
    uint32_t n = 0;
    for (auto &l : links_) n += static_cast<bool>(l);
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value MapFd(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_map *m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    return Napi::Number::New(env, bpf_map__fd(m));
  }

  Napi::Value ProgramFd(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    bpf_program *p = FindProgram(env, info[0]);
    if (!p) return env.Undefined();
    return Napi::Number::New(env, bpf_program__fd(p));
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Release();
    return info.Env().Undefined();
  }
};

}  // namespace

Napi::Object InitObject(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeObject", NativeObject::Define(env));
  return exports;
}
