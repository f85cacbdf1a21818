#!/usr/bin/env bash
# Installs everything this repo needs on Debian 12 (run as root), then builds.
#   system: the BPF toolchain (clang, llvm, bpftool); what the prebuilt native
#           addon's build uses (bzip2 for the source tarballs, binutils and
#           file for its checks; scripts/prebuild.sh fetches zig from npm and
#           Debian's libbpf, elfutils and zlib sources); the build from source
#           (cmake, g++, libbpf-dev...), which the tests' C workloads use too;
#           sys/sdt.h and a JDK for the USDT tests; the reference tools the
#           benchmarks compare against (libbpf-tools); a browser for the page
#           tests (chromium); Prometheus for the exporter's scrape tests; QEMU
#           and what scripts/kernels/boot.sh packs into a guest, for the
#           kernel matrix (test/kernels.test.ts);
#   npm:    the workspace's dependencies;
#   build:  BPF objects, generated types, the prebuilt addons, TypeScript (turbo).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool cmake g++ make pkg-config
          bzip2 binutils file xz-utils
          systemtap-sdt-dev libbpf-tools openjdk-17-jdk-headless chromium prometheus
          qemu-system-x86 busybox-static cpio kmod zstd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]} (run: sudo bash scripts/setup.sh)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Prometheus's package starts a server (where there is an init system); the
  # tests start their own, on ports of their own.
  systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi

export TURBO_TELEMETRY_DISABLED=1
# `npm install`, not `npm ci`: this npm writes lockfiles without other platforms'
# optional packages (npm/cli#4828) and its `npm ci` then rejects them. The
# lockfile still pins every version.
npm install --no-audit --no-fund
# The build fails (loudly, with the reason) when it cannot make the prebuilt
# addons: a package is never packed without one.
npm run build
for arch in x64 arm64; do
  [ -s packages/core/prebuilds/linux-$arch/ebpf_core.node ] || { echo "setup: no prebuilt addon for linux-$arch" >&2; exit 1; }
done
# Workspace bins (npx execsnoop) are linked only when their target exists,
# which is after the build: link them now.
npm install --no-audit --no-fund --offline >/dev/null
