#!/usr/bin/env bash
# image-build/scripts/mkdisk.sh ARCH ROOTFS_DIR OUT_RAW — a bootable raw GPT disk from a rootfs
# directory, without loop devices or mounts (runs anywhere mkfs and sfdisk run):
#   p1  4 MiB    BIOS boot (empty here; grub-install --target=i386-pc fills it in the Packer VM)
#   p2  64 MiB   EFI system partition, label ESP: EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI, a GRUB EFI
#                image whose embedded config boots /vmlinuz + /initrd.img of LABEL=approot
#   p3  rest     ext4 root, label approot, filled by `mkfs.ext4 -d ROOTFS_DIR`
# This first boot loader only has to get the Packer VM up under UEFI (OVMF / AAVMF); the image's
# real boot loader is installed there by provision/10-bootloader.sh (grub-install for BIOS and
# UEFI, update-grub), so kernel updates work as on any Debian system.
# GRUB's modules come from the rootfs itself (grub-efi-amd64-bin / grub-efi-arm64-bin installed
# there), so building the arm64 disk needs no arm64 GRUB on the host.
set -euo pipefail
ARCH=${1:?usage: mkdisk.sh amd64|arm64 ROOTFS_DIR OUT_RAW}
ROOTFS=${2:?}
OUT=${3:?}
DISK_MIB=${TUXHAT_DISK_MIB:-8192}
case "$ARCH" in
  amd64) GRUB_TARGET=x86_64-efi; EFI_NAME=BOOTX64.EFI; CONSOLE="console=tty0 console=ttyS0,115200n8"
         ROOT_TYPE=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 ;;
  arm64) GRUB_TARGET=arm64-efi; EFI_NAME=BOOTAA64.EFI; CONSOLE="console=tty0 console=ttyAMA0,115200n8"
         ROOT_TYPE=B921B045-1DF0-41C3-AF44-4C6F280D3FAE ;;
  *) echo "mkdisk.sh: unknown arch $ARCH" >&2; exit 2 ;;
esac
for f in "$ROOTFS/vmlinuz" "$ROOTFS/initrd.img" "$ROOTFS/usr/lib/grub/$GRUB_TARGET/normal.mod"; do
  [ -e "$f" ] || { echo "mkdisk.sh: $f missing in the rootfs" >&2; exit 1; }
done
WORK=$(mktemp -d "$(dirname "$OUT")/mkdisk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

BIOS_START=1 BIOS_MIB=4 ESP_START=5 ESP_MIB=64 ROOT_START=69
ROOT_MIB=$((DISK_MIB - ROOT_START - 1))   # 1 MiB left for the backup GPT

rm -f "$OUT"
truncate -s "${DISK_MIB}M" "$OUT"
sfdisk --quiet "$OUT" <<PT
label: gpt
start=${BIOS_START}MiB, size=${BIOS_MIB}MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios
start=${ESP_START}MiB, size=${ESP_MIB}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
start=${ROOT_START}MiB, size=${ROOT_MIB}MiB, type=${ROOT_TYPE}, name=root
PT

# Root filesystem.
truncate -s "${ROOT_MIB}M" "$WORK/root.ext4"
mkfs.ext4 -q -L approot -d "$ROOTFS" "$WORK/root.ext4"
dd if="$WORK/root.ext4" of="$OUT" bs=1M seek="$ROOT_START" conv=notrunc,sparse status=none
rm -f "$WORK/root.ext4"

# EFI system partition with a GRUB image that needs no grub.cfg.
cat > "$WORK/early.cfg" <<CFG
search --no-floppy --label approot --set=root
linux (\$root)/vmlinuz root=LABEL=approot ro $CONSOLE
initrd (\$root)/initrd.img
boot
CFG
grub-mkimage -O "$GRUB_TARGET" -d "$ROOTFS/usr/lib/grub/$GRUB_TARGET" -p /EFI/BOOT -c "$WORK/early.cfg" \
  -o "$WORK/$EFI_NAME" part_gpt ext2 fat normal linux search search_label echo gzio all_video
mkfs.vfat -C -n ESP "$WORK/esp.img" $((ESP_MIB * 1024)) >/dev/null
mmd -i "$WORK/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$WORK/esp.img" "$WORK/$EFI_NAME" "::/EFI/BOOT/$EFI_NAME"
dd if="$WORK/esp.img" of="$OUT" bs=1M seek="$ESP_START" conv=notrunc status=none

echo "mkdisk: $OUT ($DISK_MIB MiB sparse, $(du -h "$OUT" | cut -f1) allocated)"
