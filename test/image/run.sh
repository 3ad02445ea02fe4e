#!/usr/bin/env bash
# test/image/run.sh — `npm run test:image`: build the appliance image and smoke-test it under qemu
# (test/image/smoke.image.ts). Separate from `npm test`: it builds a Debian system and boots it
# under TCG, which takes minutes (docs/appliance.md, "Image smoke test", has the times measured).
#
#   npm run test:image                      build amd64 (all stages), boot, check
#   npm run test:image -- --reuse           boot the image already in image-build/out/ARCH/image
#   npm run test:image -- --arch arm64      the same for arm64 (rootfs via qemu-user binfmt)
#   npm run test:image -- --skip rootfs     any other argument goes to image-build/build.sh
# Environment: TUXHAT_IMAGE=FILE (boot this image, implies --reuse), TUXHAT_IMAGE_FIRMWARE=bios|uefi,
# TUXHAT_IMAGE_ACCEL=tcg|kvm (default tcg, as in CI). Needs root (the build) and the packages
# named by image-build/build.sh, plus postfix's smtp-sink (the relay target on the host).
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCH=amd64
REUSE=${TUXHAT_IMAGE:+1}
BUILD_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reuse) REUSE=1; shift ;;
    --arch) ARCH=${2:-}; shift 2 ;;
    *) BUILD_ARGS+=("$1"); shift ;;
  esac
done
say() { printf '[test/image/run.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
command -v smtp-sink >/dev/null || { echo "test/image/run.sh: smtp-sink missing (apt-get install postfix)" >&2; exit 1; }

T0=$SECONDS
if [ -z "$REUSE" ]; then
  say "building the $ARCH image (image-build/build.sh --arch $ARCH ${BUILD_ARGS[*]})"
  image-build/build.sh --arch "$ARCH" "${BUILD_ARGS[@]}"
else
  say "reusing ${TUXHAT_IMAGE:-image-build/out/$ARCH/image}"
fi
T1=$SECONDS
say "boot and smoke test ($ARCH, ${TUXHAT_IMAGE_ACCEL:-tcg})"
RC=0
TUXHAT_IMAGE_ARCH=$ARCH npx --no-install tap --reporter=tap --disable-coverage --allow-empty-coverage \
  --timeout=3600 test/image/smoke.image.ts || RC=$?
say "build $((T1 - T0)) s, boot + checks $((SECONDS - T1)) s; $([ "$RC" = 0 ] && echo PASSED || echo "FAILED (exit $RC)")"
exit "$RC"
