#!/usr/bin/env bash
# image-build/provision/50-appliance.sh — runs as root inside the Packer VM: installs the gateway
# bundle (/tmp/tuxhat-app.tar.gz, made by scripts/app-bundle.sh) under /opt/tuxhat and turns the
# Debian system into the appliance (docs/appliance.md, "Files and where they go"):
#   users   tuxhat (system user of the daemon), tuxhat-admin (console Shell item and SSH, sudo)
#   dirs    /etc/tuxhat (root:tuxhat 0750, production configs from appliance/etc),
#           /var/lib/tuxhat and /var/spool/tuxhat (tuxhat 0750)
#   files   appliance/rootfs/etc/... over /etc (nftables, sysctl, rsyslog export, clamd,
#           freshclam, journald, apt, modprobe); the sshd drop-in comes with sealing (90-seal.sh)
#   units   tuxhat.service, tuxhat-firstboot.service, nftables; the console menu on tty1 and the
#           serial console instead of their gettys
set -euo pipefail
BUNDLE=${1:-/tmp/tuxhat-app.tar.gz}
ARCH=$(dpkg --print-architecture)
case "$ARCH" in amd64) SERIAL=ttyS0 ;; arm64) SERIAL=ttyAMA0 ;; *) exit 1 ;; esac

rm -rf /opt/tuxhat
tar -xzf "$BUNDLE" -C /opt
chown -R root:root /opt/tuxhat
chmod -R go-w /opt/tuxhat
ln -sf /opt/tuxhat/bin/tuxhat /usr/local/bin/tuxhat
rm -f "$BUNDLE"
A=/opt/tuxhat/appliance

getent group tuxhat >/dev/null || groupadd --system tuxhat
getent passwd tuxhat >/dev/null || useradd --system --gid tuxhat --home-dir /var/lib/tuxhat \
  --no-create-home --shell /usr/sbin/nologin --comment "TuxHat Edge Gateway" tuxhat
getent group tuxhat-admin >/dev/null || groupadd tuxhat-admin
getent passwd tuxhat-admin >/dev/null || useradd --create-home --gid tuxhat-admin \
  --groups sudo,adm,systemd-journal,tuxhat --shell /bin/bash --comment "TuxHat administrator" tuxhat-admin
passwd --lock tuxhat-admin >/dev/null   # set from the console menu (Admin password)
# clamd's socket belongs to group tuxhat (clamd.conf LocalSocketGroup).
usermod -a -G tuxhat clamav

install -d -o root -g tuxhat -m 0750 /etc/tuxhat /etc/tuxhat/tls
for f in gateway.yaml appliance.yaml users.yaml; do
  install -o root -g tuxhat -m 0640 "$A/etc/$f" "/etc/tuxhat/$f"
done
install -d -o tuxhat -g tuxhat -m 0750 /var/lib/tuxhat /var/spool/tuxhat

# Operating system configs (everything but sshd, see 90-seal.sh).
(cd "$A/rootfs" && find etc -type f ! -path 'etc/ssh/*') | while read -r f; do
  install -D -o root -g root -m 0644 "$A/rootfs/$f" "/$f"
done
chmod 0755 /etc/nftables.conf
install -d -m 2755 -o root -g systemd-journal /var/log/journal

# Units.
install -m 0644 "$A"/systemd/*.service /lib/systemd/system/
mkdir -p /etc/systemd/system-preset
cat > /etc/systemd/system-preset/10-tuxhat.preset <<'PRESET'
# First boot (empty machine-id) applies presets: keep the appliance's choices.
enable tuxhat.service
enable tuxhat-firstboot.service
enable nftables.service
disable ssh.service
PRESET
systemctl enable tuxhat.service tuxhat-firstboot.service nftables.service \
  "tuxhat-console@tty1.service" "tuxhat-console@$SERIAL.service"
systemctl mask getty@tty1.service "serial-getty@$SERIAL.service"
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# Check what was installed: the shipped configs load, and Node runs here.
/opt/tuxhat/node/bin/node --version
/opt/tuxhat/bin/tuxhat config check /etc/tuxhat/gateway.yaml
echo "50-appliance: gateway $(tr '\n' ' ' < /opt/tuxhat/BUILD-INFO)installed"
