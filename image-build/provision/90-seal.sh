#!/usr/bin/env bash
# image-build/provision/90-seal.sh — last step inside the Packer VM: make the disk an image that
# every import boots as a new machine, and remove the build's access.
#   - the hardened sshd drop-in goes in, the build's sshd drop-in and root key go out; ssh.service
#     is disabled (the console menu turns it on, key-only)
#   - SSH host keys deleted (tuxhat-firstboot.service makes new ones before ssh starts)
#   - /etc/machine-id emptied (systemd makes a new one: new DHCP client id, journal id)
#   - random seed, logs, apt lists and caches, temp files removed; free space trimmed
set -euo pipefail
A=/opt/tuxhat/appliance
install -D -o root -g root -m 0644 "$A/rootfs/etc/ssh/sshd_config.d/50-tuxhat.conf" /etc/ssh/sshd_config.d/50-tuxhat.conf
rm -f /etc/ssh/sshd_config.d/00-packer-build.conf
rm -rf /root/.ssh
systemctl disable ssh.service 2>/dev/null
rm -f /etc/ssh/ssh_host_*

truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -f /var/lib/systemd/random-seed
rm -rf /var/lib/tuxhat/* /var/spool/tuxhat/*
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' \) -delete
find /var/log -type f -exec truncate -s 0 {} +
rm -rf /var/log/journal/*
rm -rf /tmp/* /var/tmp/*
fstrim -av 2>/dev/null || true
sync
echo "90-seal: sealed"
