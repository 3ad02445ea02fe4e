#!/usr/bin/env bash
# bench/run.sh — `npm run bench`: build, compile bench/ (with the e2e harness it reuses) into
# dist/, and run bench/bench.ts. Arguments go to the bench (`npm run bench -- --help`).
# Not a test: it takes minutes, needs the machine to itself, and prints numbers, not verdicts
# (except the idle-sessions memory floor). See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

for cmd in smtp-sink smtp-source postfix dnsmasq; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "bench: $cmd is missing; run \`npm test\` once (it installs the tools) or:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix dnsmasq-base" >&2
    exit 1
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "bench: must run as root (a private Postfix instance needs it)" >&2
  exit 1
fi
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi

# 1,000 idle sessions need more than the usual 1024 descriptors, in the bench and the gateway.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "[bench] npm run build" >&2
if ! npm run build --silent; then
  echo "[bench] the gateway does not build; measuring Postfix only" >&2
  set -- --systems postfix "$@"
fi
npx --no-install tsc -p bench/tsconfig.json
exec node dist/bench/bench.js "$@"
