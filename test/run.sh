#!/usr/bin/env bash
# test/run.sh — THE test command: `npm test` runs it, and so does .ci/run (on a fresh clone,
# possibly on a fresh Debian 12 machine, as root, with CI=true and no terminal).
#
#   1. the system tools the e2e tests drive (one list below); installed with apt-get if missing
#      and we are root, otherwise a clear message naming the missing ones and the command;
#   2. `npm ci` when node_modules is missing or older than package-lock.json;
#   3. `npm run build` and a type check of everything (tsconfig.test.json): type errors fail;
#   4. `tap` over test/**/*.test.ts with the TAP reporter, also written to .tap/run.log;
#   5. always a closing line `N passed, N failed[, N skipped]`, and a non-zero exit when anything
#      failed, when a step before the tests failed, or when no test ran.
#
# Arguments are passed to tap (e.g. `npm test -- test/unit` runs only the unit tests).
# TUXHAT_SKIP_SYSTEM_DEPS=1 skips step 1 (e.g. a developer machine without root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Postfix's and dnsmasq's tools live in sbin, which is not on every PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# ---- the one list: command the tests need → Debian package that provides it -------------------
REQUIRED_COMMANDS=(
  "smtp-sink:postfix"
  "smtp-source:postfix"
  "postfix:postfix"
  "swaks:swaks"
  "dnsmasq:dnsmasq-base"
  "clamd:clamav-daemon"
  "opendkim-testmsg:opendkim-tools"
  "python3:python3"
  "systemd-notify:systemd"
  # the appliance lint and console tests (test/appliance/)
  "systemd-analyze:systemd"
  "nft:nftables"
  "rsyslogd:rsyslog"
  "sshd:openssh-server"
  "ssh-keygen:openssh-client"
  "clamconf:clamav-daemon"
  "shellcheck:shellcheck"
  "tmux:tmux"
  "ip:iproute2"
  # OpenDKIM interop: opendkim-testmsg in a private network/mount namespace (test/e2e/harness/opendkim.ts)
  "unshare:util-linux"
  # packer validate of Packerfile.pkr.hcl (test/appliance/lint.test.ts)
  "packer:packer"
)
APT_PACKAGES=(postfix swaks dnsmasq-base clamav-daemon opendkim-tools python3 systemd
  nftables rsyslog rsyslog-gnutls openssh-server openssh-client shellcheck tmux iproute2 util-linux packer)
# Services those packages would start; none may be left running (port 25, freshclam's downloads,
# a system syslog daemon, sshd on :22, a host firewall).
PACKAGE_SERVICES=(postfix clamav-daemon clamav-freshclam rsyslog ssh nftables)

LOG="$ROOT/.tap/run.log"
PASSED=0
FAILED=0
SKIPPED=0
SUMMARY_PRINTED=
CREATED_POLICY_RC=

say() { printf '[test/run.sh] %s\n' "$*" >&2; }

# shellcheck disable=SC2317 # called from the EXIT trap
summary() {
  [ -n "$SUMMARY_PRINTED" ] && return 0
  SUMMARY_PRINTED=1
  if [ "$SKIPPED" -gt 0 ]; then
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  else
    echo "$PASSED passed, $FAILED failed"
  fi
}

# shellcheck disable=SC2317 # the EXIT trap
on_exit() {
  local rc=$?
  if [ -n "$CREATED_POLICY_RC" ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -z "$SUMMARY_PRINTED" ] && [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
    FAILED=1 # a step before (or around) the tests failed: count it, so the line never says 0 failed
  fi
  summary
  exit "$rc"
}
trap on_exit EXIT

fail_step() {
  say "FAILED: $*"
  exit 1
}

# ---- 1. system tools ----------------------------------------------------------------------------
missing_commands() {
  local entry cmd
  for entry in "${REQUIRED_COMMANDS[@]}"; do
    cmd=${entry%%:*}
    command -v "$cmd" >/dev/null 2>&1 || printf '%s (Debian package %s)\n' "$cmd" "${entry#*:}"
  done
}

service_state() { # prints "active enabled" words for a service, as far as can be told
  local svc=$1 out=""
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl is-active --quiet "$svc" 2>/dev/null && out="active"
    systemctl is-enabled --quiet "$svc" 2>/dev/null && out="$out enabled"
  elif [ "$svc" = postfix ] && command -v postfix >/dev/null 2>&1; then
    postfix status >/dev/null 2>&1 && out="active"
  fi
  echo "$out"
}

install_system_packages() {
  local missing
  missing=$(missing_commands)
  [ -z "$missing" ] && return 0
  local apt_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}"
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing commands needed by the e2e tests:"
    printf '  %s\n' "$missing" >&2
    say "install them as root with: $apt_cmd"
    fail_step "system packages missing"
  fi
  say "installing missing tools:"
  printf '  %s\n' "$missing" >&2
  declare -A before=()
  local svc
  for svc in "${PACKAGE_SERVICES[@]}"; do before[$svc]=$(service_state "$svc"); done
  # No service may start during the install (the standard Debian way: policy-rc.d exit 101).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, from test/run.sh: no service starts during the install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    CREATED_POLICY_RC=1
  fi
  # A fresh Postfix needs no system-wide configuration: the tests run private instances only.
  if command -v debconf-set-selections >/dev/null 2>&1 && ! dpkg -s postfix >/dev/null 2>&1; then
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq || fail_step "apt-get update"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" \
    || fail_step "apt-get install ${APT_PACKAGES[*]}"
  if [ -n "$CREATED_POLICY_RC" ]; then
    rm -f /usr/sbin/policy-rc.d
    CREATED_POLICY_RC=
  fi
  # Leave no system service behind that was not there before (postfix on :25, freshclam).
  local now was
  for svc in "${PACKAGE_SERVICES[@]}"; do
    now=" $(service_state "$svc") "
    was=" ${before[$svc]} "
    if [[ $now == *" active "* && $was != *" active "* ]]; then
      say "stopping $svc (started by the package install)"
      if [ -d /run/systemd/system ]; then systemctl stop "$svc" || true; fi
      if [ "$svc" = postfix ]; then postfix stop >/dev/null 2>&1 || true; fi
    fi
    if [[ $now == *" enabled "* && $was != *" enabled "* ]]; then
      say "disabling $svc (enabled by the package install)"
      systemctl disable --quiet "$svc" || true
    fi
  done
  missing=$(missing_commands)
  if [ -n "$missing" ]; then
    printf '  %s\n' "$missing" >&2
    fail_step "still missing after apt-get install"
  fi
}

if [ "${TUXHAT_SKIP_SYSTEM_DEPS:-}" = 1 ]; then
  say "TUXHAT_SKIP_SYSTEM_DEPS=1: not checking system tools"
else
  install_system_packages
fi

# ---- 2. node and npm dependencies ---------------------------------------------------------------
command -v node >/dev/null 2>&1 || fail_step "node is not installed (Node.js >= 20.10 is required)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=10)?0:1)' \
  || fail_step "Node.js >= 20.10 is required, found $(node -v)"
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (node_modules missing or older than package-lock.json)"
  npm ci --no-audit --no-fund || fail_step "npm ci"
  BUILT_BY_NPM_CI=1 # its `prepare` script ran the build
fi

# ---- 3. build and type check --------------------------------------------------------------------
if [ -z "${BUILT_BY_NPM_CI:-}" ]; then
  say "npm run build"
  npm run build --silent || fail_step "npm run build (type errors in gateway/src)"
fi
say "type check (tsconfig.test.json: gateway, tests, bench)"
npx --no-install tsc --noEmit -p tsconfig.test.json || fail_step "type check (tsc -p tsconfig.test.json)"

# ---- 4. tests -----------------------------------------------------------------------------------
mkdir -p "$(dirname "$LOG")"
say "tap (TAP output also in ${LOG#"$ROOT"/})"
set +e
# --allow-empty-coverage: a subset that loads no gateway code (npm test -- test/e2e/harness.test.ts)
# must not fail for want of coverage; the coverage thresholds themselves are .taprc's business.
npx --no-install tap --reporter=tap --allow-empty-coverage "$@" 2>&1 | tee "$LOG"
TAP_RC=${PIPESTATUS[0]}
set -e

# ---- 5. the closing line ------------------------------------------------------------------------
# tap's last top-level line `# { total: T, pass: P, fail: F, skip: S, todo: D }` counts every
# assertion, and a test file that crashed counts as a failure. If it is missing (tap itself
# died), count the top-level per-file `ok` / `not ok` lines instead.
count_field() { sed -n "s/.*[{ ,]$1: \([0-9][0-9]*\).*/\1/p" <<<"$2"; }
LINE=$(grep -E '^# \{ total: [0-9]+' "$LOG" | tail -n 1 || true)
if [ -n "$LINE" ]; then
  PASSED=$(count_field pass "$LINE")
  FAILED=$(count_field fail "$LINE")
  SKIPPED=$(count_field skip "$LINE")
  TODO=$(count_field todo "$LINE")
  PASSED=${PASSED:-0}
  FAILED=${FAILED:-0}
  SKIPPED=$((${SKIPPED:-0} + ${TODO:-0}))
else
  PASSED=$(grep -cE '^ok [0-9]+' "$LOG" || true)
  FAILED=$(grep -cE '^not ok [0-9]+' "$LOG" || true)
  say "no tap summary line found; counted test files instead"
fi

if [ "$FAILED" -gt 0 ]; then
  say "tests failed (see ${LOG#"$ROOT"/})"
  exit 1
fi
if [ "$PASSED" -eq 0 ]; then
  say "no test ran"
  FAILED=1
  exit 1
fi
if [ "$TAP_RC" -ne 0 ]; then
  say "tap exited $TAP_RC although no test failed (coverage check? see ${LOG#"$ROOT"/})"
  exit "$TAP_RC"
fi
exit 0
