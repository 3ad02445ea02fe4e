#!/usr/bin/env bash
# image-build/provision/10-bootloader.sh — runs as root inside the Packer VM (booted from the
# raw disk's provisional GRUB EFI image): installs the real boot loader on the VM's disk.
#   amd64: GRUB for BIOS (i386-pc, into the BIOS boot partition) and UEFI (x86_64-efi, as the
#          removable-media path EFI/BOOT/BOOTX64.EFI, no NVRAM entry), so the image boots on
#          either firmware (Proxmox/KVM SeaBIOS or OVMF, VMware BIOS or EFI, Hyper-V gen 2).
#   arm64: GRUB for UEFI (arm64-efi, EFI/BOOT/BOOTAA64.EFI).
# Kernel command line: the VGA console and the serial console (the console menu runs on both).
set -euo pipefail
ARCH=$(dpkg --print-architecture)
ROOTDEV=$(findmnt -no SOURCE /)
DISK=/dev/$(lsblk -no PKNAME "$ROOTDEV")
mountpoint -q /boot/efi || mount /boot/efi

case "$ARCH" in
  amd64) SERIAL=ttyS0 ;;
  arm64) SERIAL=ttyAMA0 ;;
  *) echo "10-bootloader.sh: unsupported architecture $ARCH" >&2; exit 1 ;;
esac
mkdir -p /etc/default/grub.d
cat > /etc/default/grub.d/50-tuxhat.cfg <<CFG
# TuxHat appliance: short menu, output on screen and serial console.
GRUB_TIMEOUT=2
GRUB_DISTRIBUTOR="TuxHat Edge Gateway (Debian)"
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=tty0 console=$SERIAL,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
CFG

if [ "$ARCH" = amd64 ]; then
  grub-install --target=i386-pc "$DISK"
  grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram
  # Later grub-pc upgrades reinstall to the same disk.
  echo "grub-pc grub-pc/install_devices multiselect $DISK" | debconf-set-selections
else
  grub-install --target=arm64-efi --efi-directory=/boot/efi --removable --no-nvram
fi
update-grub
echo "10-bootloader: GRUB installed on $DISK ($ARCH)"
