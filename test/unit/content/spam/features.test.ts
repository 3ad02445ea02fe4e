/*
 * Unit test of content/spam/features.ts + features-worker.ts: spamscanner in a worker thread
 * finds an IDN homograph link (punycode decoded), a brand look-alike and an executable; a
 * `.env` in the working directory does not reach the gateway's environment;
 * a request to a thread that is still starting fails at once instead of waiting.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FeaturePool } from '../../../../gateway/src/content/spam/features.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';

const MSG = Buffer.from([
  'From: a@b.test', 'Subject: x', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=B', '', '--B', 'Content-Type: text/plain; charset=utf-8', '',
  'https://xn--pple-43d.com/login https://paypa1.com/x https://www.debian.org/', '--B',
  'Content-Type: application/octet-stream; name="setup.exe"', 'Content-Disposition: attachment; filename="setup.exe"', 'Content-Transfer-Encoding: base64', '',
  'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=', '--B--', '',
].join('\r\n'));

t.test('spamscanner features in a thread, no .env side effects', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, '.env'), 'TUXHAT_DOTENV_PROBE=leaked\n');
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  const pool = new FeaturePool(1);
  t.teardown(() => pool.close());
  const parsed = await parseMessage(MSG);
  await t.rejects(pool.extract(parsed, 5000), /still starting/, 'not ready yet: fails at once');
  await pool.warm();
  const findings = await pool.extract(parsed, 10_000);
  const kinds = findings.map((f) => f.kind);
  t.ok(kinds.includes('idn'), 'IDN homograph');
  t.match(findings.find((f) => f.kind === 'idn')?.detail, /^аpple\.com \(xn--pple-43d\.com\)/);
  t.ok(kinds.includes('suspicious') || kinds.includes('phishing'), 'paypa1.com looks like paypal');
  t.ok(kinds.includes('executable'), 'executable attachment');
  t.notOk(findings.some((f) => f.detail.includes('debian.org')), 'an ordinary host is not flagged');
  t.equal(process.env['TUXHAT_DOTENV_PROBE'], undefined, 'the .env did not reach the gateway');
});
