# Packerfile.pkr.hcl — turns the raw disk made by image-build/ into the TuxHat appliance image.
# Run through `image-build/build.sh --arch amd64|arm64` (it makes the inputs first), or by hand:
#   packer build -var arch=amd64 -var version=0.1.0 Packerfile.pkr.hcl
# Works with Debian 12's Packer 1.6.6 (qemu builder built in; no required_plugins, no packer init)
# and with current Packer after `packer plugins install github.com/hashicorp/qemu` (docs/appliance.md).
# Pass this FILE, not the directory. Everything runs offline under qemu TCG (no KVM needed).
#
# The VM boots image-build/out/ARCH/disk.raw under UEFI (OVMF / AAVMF as -bios), Packer logs in as
# root with the build key, and the provisioners install the real boot loader, the gateway and the
# appliance configuration, then seal the disk. The post-processor converts the qcow2 into raw,
# vmdk (streamOptimized) and OVA next to it.

packer {
  required_version = ">= 1.6.6"
}

variable "arch" {
  type    = string
  default = "amd64"
  validation {
    condition     = var.arch == "amd64" || var.arch == "arm64"
    error_message = "The arch variable must be amd64 or arm64."
  }
}

variable "version" {
  type    = string
  default = "0.1.0"
}

variable "out_dir" {
  type    = string
  default = "image-build/out"
}

variable "accelerator" {
  type    = string
  default = "tcg"
}

locals {
  qemu     = { amd64 = "qemu-system-x86_64", arm64 = "qemu-system-aarch64" }
  machine  = { amd64 = "q35", arm64 = "virt" }
  firmware = { amd64 = "/usr/share/ovmf/OVMF.fd", arm64 = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd" }
  cpu      = { amd64 = "qemu64", arm64 = "cortex-a57" }
  name     = "tuxhat-${var.version}-${var.arch}"
}

source "qemu" "appliance" {
  disk_image           = true
  iso_url              = "${var.out_dir}/${var.arch}/disk.raw"
  iso_checksum         = "none"
  use_backing_file     = false
  skip_resize_disk     = true
  qemu_binary          = local.qemu[var.arch]
  machine_type         = local.machine[var.arch]
  accelerator          = var.accelerator
  headless             = true
  memory               = 2048
  cpus                 = 2
  disk_interface       = "virtio"
  net_device           = "virtio-net"
  format               = "qcow2"
  disk_compression     = true
  vm_name              = "${local.name}.qcow2"
  output_directory     = "${var.out_dir}/${var.arch}/image"
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = "${var.out_dir}/build_key"
  ssh_timeout          = "30m"
  shutdown_command     = "systemctl poweroff"
  shutdown_timeout     = "10m"
  qemuargs = [
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
    ["-bios", local.firmware[var.arch]],
    ["-cpu", local.cpu[var.arch]],
    ["-serial", "file:${var.out_dir}/${var.arch}/packer-serial.log"],
  ]
}

build {
  sources = ["source.qemu.appliance"]

  provisioner "file" {
    source      = "${var.out_dir}/${var.arch}/tuxhat-app.tar.gz"
    destination = "/tmp/tuxhat-app.tar.gz"
  }

  provisioner "shell" {
    scripts = [
      "image-build/provision/10-bootloader.sh",
      "image-build/provision/50-appliance.sh",
      "image-build/provision/90-seal.sh",
    ]
  }

  post-processor "shell-local" {
    inline = ["image-build/scripts/convert.sh ${var.arch} ${var.out_dir}/${var.arch}/image ${local.name}"]
  }
}
