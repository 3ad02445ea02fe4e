/*
 * Unit tests of sign/key-check.ts (issue 3): the compare of a key with its DNS record (ok,
 * missing, mismatch for another key / revoked p= / wrong k= / h= without sha256 / two records,
 * unknown on a DNS failure), and the cache of KeyCheck.usable(): refuse or sign on a bad record,
 * a DNS failure keeps the last state, a re-check only after intervalMs.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { checkKey, createKeyCheck, publicKeyValue, type SigningKey } from '../../../gateway/src/sign/index.js';

const rsa: SigningKey = { domain: 'example.test', selector: 'r', algorithm: 'rsa-sha256', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey };
const ed: SigningKey = { domain: 'example.test', selector: 'e', algorithm: 'ed25519-sha256', key: generateKeyPairSync('ed25519').privateKey };
const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

type Zone = Record<string, string[] | string>;
function resolver(zone: Zone, asked: string[] = []) {
  return async (name: string): Promise<string[][]> => {
    asked.push(name);
    const v = zone[name];
    if (v === 'TIMEOUT') throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
    if (v === undefined) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    return (Array.isArray(v) ? v : [v]).map((x) => [x.slice(0, 255), x.slice(255)].filter(Boolean));
  };
}

t.test('checkKey states', async (t) => {
  const R = 'r._domainkey.example.test';
  const E = 'e._domainkey.example.test';
  const ok = `v=DKIM1; k=rsa; p=${publicKeyValue(rsa.key)}`;
  const state = async (zone: Zone, key = rsa) => (await checkKey(key, resolver(zone))).state;
  t.equal(await state({ [R]: ok }), 'ok', 'our key, split over two strings');
  t.equal(await state({ [R]: `v=DKIM1; h=sha256; k=rsa; p=${publicKeyValue(rsa.key)}` }), 'ok', 'h=sha256 fits');
  t.equal(await state({ [E]: `v=DKIM1; k=ed25519; p=${publicKeyValue(ed.key)}` }, ed), 'ok', 'Ed25519: the raw 32 bytes');
  t.equal(await state({}), 'missing');
  t.equal(await state({ [R]: 'v=spf1 -all' }), 'missing', 'a TXT record without p=');
  t.equal(await state({ [R]: `v=DKIM1; k=rsa; p=${publicKeyValue(other)}` }), 'mismatch', 'another key');
  t.equal(await state({ [R]: 'v=DKIM1; k=rsa; p=' }), 'mismatch', 'revoked');
  t.equal(await state({ [R]: `v=DKIM1; k=ed25519; p=${publicKeyValue(rsa.key)}` }), 'mismatch', 'k= of another type');
  t.equal(await state({ [R]: `v=DKIM1; h=sha1; k=rsa; p=${publicKeyValue(rsa.key)}` }), 'mismatch', 'h=sha1 only');
  t.equal(await state({ [R]: [ok, ok] }), 'mismatch', 'two key records');
  t.equal(await state({ [R]: 'TIMEOUT' }), 'unknown');
});

t.test('usable(): refuse or sign on a bad record; the cache; a DNS failure keeps the last state', async (t) => {
  const R = 'r._domainkey.example.test';
  const zone: Zone = { [R]: `v=DKIM1; k=rsa; p=${publicKeyValue(rsa.key)}` };
  const asked: string[] = [];
  let now = 1_000_000;
  const check = createKeyCheck({ resolve: resolver(zone, asked), intervalMs: 60_000, onBadRecord: 'refuse', now: () => now });
  const u1 = await check.usable([rsa, ed]);
  t.same(u1.keys.map((k) => k.selector), ['r'], 'e has no record: refused');
  t.same(u1.refused.map((s) => [s.selector, s.state]), [['e', 'missing']]);
  await check.usable([rsa, ed]);
  t.equal(asked.length, 2, 'cached within intervalMs');
  now += 61_000;
  zone[R] = 'TIMEOUT';
  const u2 = await check.usable([rsa]);
  t.same(u2.keys.map((k) => k.selector), ['r'], 'a DNS failure keeps the last known ok');
  t.equal(asked.length, 3);
  delete zone[R];
  const u3 = await check.usable([rsa]);
  t.same(u3.keys, [], 'the record is gone: refused at the next signing');
  t.same(check.states().map((s) => [s.selector, s.state]).sort(), [['e', 'missing'], ['r', 'missing']]);

  const lax = createKeyCheck({ resolve: resolver({}), intervalMs: 60_000, onBadRecord: 'sign' });
  t.same((await lax.usable([rsa])).keys.map((k) => k.selector), ['r'], "onBadRecord 'sign' signs anyway");
  const unknown = createKeyCheck({ resolve: resolver({ [R]: 'TIMEOUT' }), intervalMs: 60_000, onBadRecord: 'refuse' });
  t.same((await unknown.usable([rsa])).keys.map((k) => k.selector), ['r'], 'never checked and DNS down: signs');
});
