#!/usr/bin/env bash
# Installs everything this repo needs on Debian 12 (run as root), then builds.
#   system: the BPF toolchain (clang, llvm, bpftool), libbpf/libelf/zlib to build
#           the native addon (cmake, g++), sys/sdt.h for the USDT test target,
#           and the reference tools the benchmarks compare against (libbpf-tools);
#   npm:    the workspace's dependencies (npm ci);
#   build:  BPF objects, generated types, native addon, TypeScript (turbo).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool cmake g++ make pkg-config
          systemtap-sdt-dev libbpf-tools openjdk-17-jdk-headless)
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
fi

export TURBO_TELEMETRY_DISABLED=1
# `npm install`, not `npm ci`: this npm writes lockfiles without other platforms'
# optional packages (npm/cli#4828) and its `npm ci` then rejects them. The
# lockfile still pins every version.
npm install --no-audit --no-fund
npm run build
# Workspace bins (npx execsnoop) are linked only when their target exists,
# which is after the build: link them now.
npm install --no-audit --no-fund --offline >/dev/null
