/*
 * bench/sa-fidelity-skipped.ts — the converter's skipped SpamAssassin rules by reason, as JSON
 * (names, not only the counts the data file carries), for bench/sa-fidelity-diff.py --skipped.
 * Same options as bench/sa-rules.ts. Run: npx tsc -p bench/tsconfig.json &&
 * node dist/bench/sa-fidelity-skipped.js > bench/.cache/sa-skipped.json
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertSaRules } from '../gateway/src/content/spam/sa-convert.js';
import { SA_EVALS } from '../gateway/src/content/spam/sa-eval.js';

const dir = process.argv[2] ?? '/usr/share/spamassassin';
const files = readdirSync(dir).filter((f) => f.endsWith('.cf') && f !== 'local.cf' && f !== 'regression_tests.cf').sort()
  .map((name) => ({ name, text: readFileSync(join(dir, name), 'latin1') }));
const metaOnly = /^(?:UNPARSEABLE_RELAY)$/;
const { skipped } = convertSaRules(files, 2, { negative: false, evals: new Set(Object.keys(SA_EVALS)), metaOnly });
process.stdout.write(`${JSON.stringify(skipped)}\n`);
