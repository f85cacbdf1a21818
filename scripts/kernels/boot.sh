#!/usr/bin/env bash
# Runs a command in this checkout under another kernel: one of Debian's stock
# kernel packages, booted under QEMU, with the host's root filesystem as the
# guest's (read-only, over 9p) and a throwaway writable layer on the checkout.
#
#   scripts/kernels/boot.sh KERNEL COMMAND
#     KERNEL   6.1   Debian 12's linux-image-amd64 (the kernel Debian 12 boots)
#              6.12  Debian 12's linux-image-6.12-amd64 (bookworm-backports)
#              5.10  Debian 11's linux-image-amd64 (bullseye)
#              or a package name, e.g. linux-image-6.1.0-57-amd64
#     COMMAND  run by bash in the checkout, as root; its exit status is ours
#
# Environment: KERNELS_CACHE (default /var/cache/ebpf-kernels), KERNELS_TIMEOUT
# (seconds for the whole VM, default 1200), KERNELS_MEM (default 2G).
#
# Facts this is built on (found on the project's CI machines):
#  - /dev/kvm there is kvm_pvm, which runs only PVM guest kernels: a stock
#    kernel hangs early. So QEMU emulates (TCG): a guest boots in ~6 s and
#    runs ~12x slower than the host.
#  - TCG with one host thread for all vCPUs (thread=single), not one each:
#    enabling a tracepoint patches kernel text through int3 while the other
#    vCPU runs it, and multi-threaded TCG can still execute its stale copy
#    with the int3 after the kernel finished patching: "Oops: int3" in
#    syscall_trace_enter and a panic (seen on 6.12, once in a few runs).
#  - The host's / is shared read-only over 9p; multidevs=remap keeps inode
#    numbers unique across the host's filesystems (node's module loader and
#    the BTF cache compare them).
#  - The checkout is a read-only share of its own (it may live under the
#    host's /tmp, which the guest's own tmpfs hides), with a tmpfs overlay on
#    it so node_modules and caches can be written without touching the host's.
#  - A 64 MiB virtio disk (/dev/vda) gives the block tools real I/O to see;
#    the command finds it in EBPF_SCRATCH_DISK (a test writes to it).
#  - Guests have no network: nothing in COMMAND may download.
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
KERNEL=$1; shift
CMD=$*
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KERNELS_CACHE:-/var/cache/ebpf-kernels}
TIMEOUT=${KERNELS_TIMEOUT:-1200}
MEM=${KERNELS_MEM:-2G}
say() { echo "[kernels] $*" >&2; }

# ---- the host's tools ----
missing=()
for p in qemu-system-x86 busybox-static cpio kmod xz-utils zstd; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- the kernel package (downloaded, unpacked; never installed on the host) ----
apt_opts=()
case $KERNEL in
  6.1) meta=linux-image-amd64 ;;
  6.12) meta=linux-image-6.12-amd64 ;;
  5.10)
    # Debian 11's archive, through a private list: the host's apt setup is left alone.
    meta=linux-image-amd64
    mkdir -p "$CACHE/bullseye/lists/partial"
    echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bullseye-security main' > "$CACHE/bullseye/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$CACHE/bullseye/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o "Dir::State::Lists=$CACHE/bullseye/lists" -o Dir::State::status=/dev/null)
    [ -n "$(ls "$CACHE/bullseye/lists" 2>/dev/null | grep -v partial)" ] || apt-get "${apt_opts[@]}" update -qq
    ;;
  linux-image-*) meta= ; pkg=$KERNEL ;;
  *) say "unknown kernel '$KERNEL' (6.1, 6.12, 5.10 or a linux-image package)"; exit 2 ;;
esac
if [ -n "${meta:-}" ]; then
  pkg=$(apt-cache "${apt_opts[@]}" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [ -z "$pkg" ] && [ ${#apt_opts[@]} -eq 0 ]; then
    apt-get update -qq
    pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
fi
[ -n "${pkg:-}" ] || { say "no package found for kernel $KERNEL"; exit 2; }
kdir=$CACHE/kernels/$pkg
if [ ! -e "$kdir/.unpacked" ]; then
  say "downloading $pkg"
  rm -rf "$kdir"; mkdir -p "$kdir" "$CACHE/debs"
  (cd "$CACHE/debs" && apt-get "${apt_opts[@]}" download "$pkg" 2>&1 | grep -v 'unsandboxed' >&2 || true)
  deb=$(ls "$CACHE/debs/${pkg}_"*.deb | head -1)
  dpkg -x "$deb" "$kdir"
  depmod -b "$kdir" "$(ls "$kdir/lib/modules")"
  touch "$kdir/.unpacked"
fi
kver=$(ls "$kdir/lib/modules")

# ---- the initramfs: busybox, the modules for virtio/9p/overlay, and init ----
init=$(cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod /mods/$m 2>/dev/null || echo "[guest] insmod $m failed"; done
R=/root; mkdir -p $R
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host $R || { echo "[guest] no host root"; poweroff -f; }
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm; mount -t devpts devpts $R/dev/pts
for d in tmp run dev/shm; do mount -t tmpfs -o mode=1777 tmpfs $R/$d; done
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t bpf bpf $R/sys/fs/bpf
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup  # v2, memory controller included (oomkill's smoke confines its kill there)
# Loopback is down in a bare guest; the TCP tools' workloads need it.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
mkdir -p $R/run/io; mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 io $R/run/io
repo=$(cat $R/run/io/repo)
# The checkout comes as a share of its own: under the host's /tmp (a tmpfs
# there, hidden by the guest's) it is not in the host root's share.
mkdir -p /lower; mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose repo /lower
mkdir -p /ovl; mount -t tmpfs tmpfs /ovl; mkdir -p /ovl/u /ovl/w $R$repo
mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/u,workdir=/ovl/w $R$repo
echo "[guest] kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus, up in $(cut -d' ' -f1 /proc/uptime) s"
chroot $R /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 EBPF_SCRATCH_DISK=/dev/vda \
  /bin/bash -c "cd $repo && bash /run/io/cmd; echo \$? > /run/io/rc" </dev/null
sync; umount $R/run/io
poweroff -f
INIT
)
hash=$( (echo "$init"; sha256sum /bin/busybox) | sha256sum | cut -c1-12)
initrd=$CACHE/initrd-$kver-$hash.cpio.gz
if [ ! -e "$initrd" ]; then
  t=$(mktemp -d)
  mkdir -p "$t"/{bin,proc,sys,dev,mods}
  cp /bin/busybox "$t/bin/"
  printf '%s\n' "$init" > "$t/init"; chmod +x "$t/init"
  : > "$t/modules"
  # Dependencies first, as modprobe would load them; busybox insmod takes plain .ko files.
  modprobe -d "$kdir" -S "$kver" --show-depends -a virtio_pci virtio_blk 9pnet_virtio 9p overlay |
    awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r ko; do
      name=$(basename "$ko"); name=${name%.xz}; name=${name%.zst}
      case $ko in *.xz) xz -dc "$ko" ;; *.zst) zstd -dc "$ko" ;; *) cat "$ko" ;; esac > "$t/mods/$name"
      echo "$name" >> "$t/modules"
    done
  (cd "$t" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"; rm -rf "$t"
fi

# ---- boot ----
io=$(mktemp -d /tmp/ebpf-kernels.XXXXXX)
trap 'rm -rf "$io"' EXIT
echo "$REPO" > "$io/repo"
printf '%s\n' "$CMD" > "$io/cmd"
truncate -s 64M "$io/disk.img"
say "booting $pkg ($kver)"
status=0
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
  -machine q35 -accel tcg,thread=single,tb-size=512 -cpu max -smp "$(nproc)" -m "$MEM" \
  -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1" -serial stdio \
  -virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$io,mount_tag=io,security_model=none" \
  -drive "file=$io/disk.img,if=virtio,format=raw,cache=none" </dev/null || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then say "the VM ran past ${TIMEOUT} s"; exit 124; fi
[ -e "$io/rc" ] || { say "the guest ended without a result"; exit 125; }
exit "$(cat "$io/rc")"
