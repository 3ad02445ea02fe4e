#!/usr/bin/env bash
# image-build/build.sh — build the TuxHat appliance image for one architecture, offline (only
# Debian's mirror and the npm registry are needed). docs/appliance.md, "Building the image".
#
#   image-build/build.sh --arch amd64|arm64 [--skip STAGE]... [--version V] [--out DIR] [--clean]
#
# Stages (each can be skipped with --skip, e.g. --skip rootfs --skip disk to re-run Packer only):
#   app     the gateway bundle: Node.js 22 from the npm registry's node-linux-<cpu> package, the
#           compiled gateway and its production node_modules for ARCH  → OUT/ARCH/tuxhat-app.tar.gz
#   rootfs  mmdebstrap from Debian's mirror (packages/common.list + packages/ARCH.list), then
#           scripts/customize-rootfs.sh                                  → OUT/ARCH/rootfs/
#   disk    scripts/mkdisk.sh: raw GPT disk (BIOS boot, ESP, ext4 root) without loop devices
#                                                                        → OUT/ARCH/disk.raw
#   packer  Packerfile.pkr.hcl under qemu TCG: real grub-install, appliance install, sealing; then
#           scripts/convert.sh → OUT/ARCH/image/tuxhat-V-ARCH.{qcow2,raw,vmdk,ova} + SHA256SUMS
# --clean removes the intermediates (rootfs/, disk.raw) after a successful build.
# Stage times are printed and written to OUT/ARCH/timings.txt.
# Needs root (mmdebstrap --mode=root, chroot); arm64 additionally a working qemu-aarch64 binfmt
# handler (qemu-user-static + binfmt-support), which this script enables if it can.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARCH=
SKIP=" "
OUT="$ROOT/image-build/out"
VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json | head -n1)
CLEAN=
MIRROR=${TUXHAT_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${TUXHAT_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

usage() { sed -n '4,6p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=${2:-}; shift 2 ;;
    --skip) SKIP="$SKIP${2//,/ } "; shift 2 ;;
    --version) VERSION=${2:-}; shift 2 ;;
    --out) OUT=$(realpath -m "${2:-}"); shift 2 ;;
    --clean) CLEAN=1; shift ;;
    -h|--help) usage ;;
    *) echo "build.sh: unknown argument $1" >&2; usage ;;
  esac
done
case "$ARCH" in amd64|arm64) ;; *) usage ;; esac
for s in $SKIP; do
  case "$s" in app|rootfs|disk|packer) ;; *) echo "build.sh: unknown stage $s (app rootfs disk packer)" >&2; exit 2 ;; esac
done
skipped() { [[ "$SKIP" == *" $1 "* ]]; }
say() { printf '[build.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (mmdebstrap --mode=root, chroot)" >&2; exit 1; }
missing=()
for cmd in mmdebstrap sfdisk mkfs.ext4 mkfs.vfat mmd mcopy grub-mkimage qemu-img packer npm; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
case "$ARCH" in
  amd64) command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86_64); [ -f /usr/share/ovmf/OVMF.fd ] || missing+=(ovmf) ;;
  arm64) command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-aarch64); [ -f /usr/share/qemu-efi-aarch64/QEMU_EFI.fd ] || missing+=(qemu-efi-aarch64) ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
  echo "build.sh: missing ${missing[*]}; install: apt-get install -y mmdebstrap fdisk e2fsprogs dosfstools mtools grub-common qemu-utils packer qemu-system-x86 qemu-system-arm ovmf qemu-efi-aarch64 qemu-user-static binfmt-support" >&2
  exit 1
fi

A="$OUT/$ARCH"
mkdir -p "$A"
TIMINGS="$A/timings.txt"
: > "$TIMINGS"
stage() {
  local name=$1; shift
  if skipped "$name"; then say "stage $name: skipped"; return 0; fi
  say "stage $name: start"
  local t0=$SECONDS
  "$@"
  local dt=$((SECONDS - t0))
  printf '%-7s %4d s  (%dm%02ds)\n' "$name" "$dt" $((dt / 60)) $((dt % 60)) | tee -a "$TIMINGS" >&2
}

# A missing build key is made once; it only ever opens the Packer VM and is removed by sealing.
[ -s "$OUT/build_key" ] || ssh-keygen -q -t ed25519 -N '' -C tuxhat-image-build -f "$OUT/build_key"

ensure_binfmt() {
  [ "$ARCH" = arm64 ] || return 0
  [ "$(uname -m)" = aarch64 ] && return 0
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
    echo "build.sh: the qemu-aarch64 binfmt handler is not enabled (apt-get install qemu-user-static binfmt-support)" >&2; exit 1; }
}

do_app() { image-build/scripts/app-bundle.sh "$ARCH" "$A/tuxhat-app.tar.gz"; }

do_rootfs() {
  ensure_binfmt
  local pkgs
  pkgs=$(grep -hv -e '^#' -e '^$' image-build/packages/common.list "image-build/packages/$ARCH.list" | paste -sd, -)
  rm -rf "$A/rootfs"
  nice -n 10 mmdebstrap --mode=root --variant=apt --arch="$ARCH" --format=directory \
    --aptopt='APT::Install-Recommends "false"' --include="$pkgs" bookworm "$A/rootfs" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main"
  image-build/scripts/customize-rootfs.sh "$ARCH" "$A/rootfs" "$OUT/build_key.pub"
}

do_disk() { image-build/scripts/mkdisk.sh "$ARCH" "$A/rootfs" "$A/disk.raw"; }

do_packer() {
  rm -rf "$A/image"
  PACKER_CACHE_DIR="$OUT/packer_cache" CHECKPOINT_DISABLE=1 nice -n 10 \
    packer build -color=false -var "arch=$ARCH" -var "version=$VERSION" -var "out_dir=$OUT" Packerfile.pkr.hcl
  rm -rf "$OUT/packer_cache"
}

T0=$SECONDS
stage app do_app
stage rootfs do_rootfs
stage disk do_disk
stage packer do_packer
printf '%-7s %4d s  (%dm%02ds)\n' total $((SECONDS - T0)) $(((SECONDS - T0) / 60)) $(((SECONDS - T0) % 60)) | tee -a "$TIMINGS" >&2
if [ -n "$CLEAN" ]; then rm -rf "$A/rootfs" "$A/disk.raw"; fi
say "done: $A/image"
ls -ls "$A/image" >&2 2>/dev/null || true
