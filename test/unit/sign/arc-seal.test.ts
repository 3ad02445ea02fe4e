/*
 * Unit tests of sign/arc-seal.ts (issue 3): the sealer from config (the DKIM key by default,
 * RSA only), our A-R found among the header edits, no seal over a failed chain or without our
 * results, the config rule that arc.seal needs a domain and selector.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { arcSealEdits, loadArcSealer, ourAuthResults } from '../../../gateway/src/sign/arc-seal.js';

const MSG = 'From: a@x.test\r\nTo: b@corp.test\r\nSubject: s\r\n\r\nbody\r\n';

t.test('sealer: off, the DKIM key by default, RSA only; config needs domain and selector', async (t) => {
  const dir = t.testdir({});
  mkdirSync(join(dir, 'seal.test'));
  writeFileSync(join(dir, 'seal.test', 'r.key'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'seal.test', 'e.key'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  t.equal(loadArcSealer(parseConfig({}), dir), null);
  const s = loadArcSealer(parseConfig({ arc: { seal: true, domain: 'seal.test', selector: 'r' } }), dir);
  t.equal(s?.domain, 'seal.test');
  t.throws(() => loadArcSealer(parseConfig({ arc: { seal: true, domain: 'seal.test', selector: 'e' } }), dir), /rsa-sha256 only/);
  t.throws(() => loadArcSealer(parseConfig({ arc: { seal: true, domain: 'seal.test', selector: 'gone' } }), dir), /cannot read the sealing key/);
  t.throws(() => parseConfig({ arc: { seal: true, domain: 'seal.test' } }), /arc\.seal needs arc\.domain and arc\.selector/);

  const ar = ourAuthResults([
    { op: 'remove', name: 'Authentication-Results', match: { authservId: 'gw.test' } },
    { op: 'prepend', name: 'Authentication-Results', value: 'other.test; spf=pass' },
    { op: 'prepend', name: 'Authentication-Results', value: 'GW.test;\r\n spf=pass' },
  ], 'gw.test');
  t.equal(ar, 'GW.test;\r\n spf=pass');
  t.equal(ourAuthResults([], 'gw.test'), null);

  const body = () => Readable.from([Buffer.from(MSG)]);
  t.equal(await arcSealEdits(s!, body, ar, 'fail'), null, 'a failed chain is not extended');
  t.equal(await arcSealEdits(s!, body, null, 'none'), null, 'nothing of ours to seal');
  const set = await arcSealEdits(s!, body, ar, 'none');
  t.same(set?.map((e) => e.name), ['ARC-Seal', 'ARC-Message-Signature', 'ARC-Authentication-Results']);
});
