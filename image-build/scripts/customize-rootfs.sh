#!/usr/bin/env bash
# image-build/scripts/customize-rootfs.sh ARCH ROOTFS_DIR BUILD_PUBKEY — turn mmdebstrap's rootfs
# into the base system the Packer VM boots: fstab by label, hostname, DHCP on the first NIC
# (systemd-networkd + resolved), and root SSH with the build key only for the Packer session
# (provision/90-seal.sh removes the key and this sshd drop-in, and disables ssh).
# The appliance itself (gateway, users, configs, units) is installed inside the VM by
# provision/50-appliance.sh. Runs on the build host as root; in-rootfs commands run in a chroot
# (for arm64 through qemu-user binfmt).
set -euo pipefail
ARCH=${1:?usage: customize-rootfs.sh amd64|arm64 ROOTFS_DIR BUILD_PUBKEY}
R=${2:?}
PUBKEY=${3:?}
[ -x "$R/bin/systemctl" ] || { echo "customize-rootfs.sh: $R is not a Debian rootfs" >&2; exit 1; }

cat > "$R/etc/fstab" <<'FSTAB'
# <file system>  <mount point>  <type>  <options>                      <dump>  <pass>
LABEL=approot    /              ext4    errors=remount-ro              0       1
LABEL=ESP        /boot/efi      vfat    umask=0077,nofail              0       2
tmpfs            /tmp           tmpfs   nodev,nosuid,size=25%          0       0
FSTAB
mkdir -p "$R/boot/efi"

echo tuxhat > "$R/etc/hostname"
chmod 0644 "$R/etc/hostname"
cat > "$R/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	tuxhat

::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
HOSTS

# Network: DHCP on every Ethernet NIC until the console menu (Network) writes a static setting.
mkdir -p "$R/etc/systemd/network"
cat > "$R/etc/systemd/network/10-tuxhat.network" <<'NET'
# Written by the TuxHat console menu (Network); the image ships DHCP.
[Match]
Name=en* eth*

[Network]
DHCP=yes
NET
ln -sf /run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
# Waiting for "online" means one configured link, not all of them.
mkdir -p "$R/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat > "$R/etc/systemd/system/systemd-networkd-wait-online.service.d/50-tuxhat.conf" <<'WAIT'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60
WAIT

chroot "$R" systemctl enable systemd-networkd.service systemd-resolved.service ssh.service 2>&1 | grep -v -e "^Created symlink" -e "^Synchronizing" -e "^Executing" || true

# Build access for Packer (removed by provision/90-seal.sh).
install -d -m 0700 "$R/root/.ssh"
install -m 0600 "$PUBKEY" "$R/root/.ssh/authorized_keys"
cat > "$R/etc/ssh/sshd_config.d/00-packer-build.conf" <<'SSHD'
# Image build only: Packer logs in as root with the build key. Removed when the image is sealed.
PermitRootLogin prohibit-password
PasswordAuthentication no
SSHD

# mmdebstrap leaves the host's apt lists; the image fetches its own on first update.
rm -rf "$R/var/lib/apt/lists/"* "$R/var/cache/apt/"*.bin
echo "customize-rootfs: $R ($ARCH) ready"
