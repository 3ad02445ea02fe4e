#!/usr/bin/env bash
# bench/exactness.sh OUTDIR — record every result a speed change must keep identical, on TRAIN
# only (never TEST): every SpamAssassin rule's result for every TRAIN message (sa-hits-dump, all
# rules forced), every symbol and score of the time split's judged part (quality-validate
# --split time, Bayes probability included), and every `tuxhat scan` line of that part with
# spamscanner's features on (scan-cpu: file, score, action, symbols with details). Run it at the
# commit before a change and at the change, then `diff -r BEFORE AFTER` must print nothing.
# It also prints scan-cpu's CPU per message (one round; compare CPU over repeated runs).
# Needs the corpus in bench/.cache (npm run bench:quality fetches it once).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/exactness.sh OUTDIR}
mkdir -p "$out"
npm run build --silent
npx tsc -p bench/tsconfig.json
nice -n 19 node dist/bench/sa-hits-dump.js > "$out/sa-hits.txt"
nice -n 19 node dist/bench/quality-validate.js --split time --out "$out/validate-time.jsonl" 2> "$out/validate.log"
nice -n 19 node dist/bench/scan-cpu.js --rounds 1 --out "$out/scan.jsonl" | tee "$out/scan-cpu.txt"
wc -l "$out/sa-hits.txt" "$out/validate-time.jsonl" "$out/scan.jsonl"
