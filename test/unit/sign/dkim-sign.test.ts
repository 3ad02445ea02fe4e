/*
 * Unit tests of sign/ (issue 3, outbound DKIM): RSA and Ed25519 keys generated here with
 * node:crypto sign a message; mailauth's dkimVerify against an in-memory resolver serving the
 * public keys gives dkim=pass for both; From/To/Subject/Date/Message-ID are oversigned in h=;
 * a header edit added after signing (an extra Subject) breaks it; key ring loading and the
 * signing domain choice. No network.
 */
import t from 'tap';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { dkimVerify } from 'mailauth';
import { applyHeaderEdits } from '../../../gateway/src/queue/body.js';
import { dkimHeaderEdits, dkimSignatures, loadKeyRing, signingDomainOf, type SigningKey } from '../../../gateway/src/sign/index.js';
import type { HeaderEdit } from '../../../gateway/src/core/index.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const KEYS: SigningKey[] = [
  { domain: 'example.test', selector: 's2026rsa', algorithm: 'rsa-sha256', key: rsa.privateKey },
  { domain: 'example.test', selector: 's2026ed', algorithm: 'ed25519-sha256', key: ed.privateKey },
];
function p(k: KeyObject, type: string): string {
  const der = k.export({ type: 'spki', format: 'der' });
  // RFC 8463 §4.2: the Ed25519 p= is the raw 32-byte key, not SPKI.
  return type === 'ed25519' ? der.subarray(der.length - 32).toString('base64') : der.toString('base64');
}
const TXT: Record<string, string> = {
  's2026rsa._domainkey.example.test': `v=DKIM1; k=rsa; p=${p(rsa.publicKey, 'rsa')}`,
  's2026ed._domainkey.example.test': `v=DKIM1; k=ed25519; p=${p(ed.publicKey, 'ed25519')}`,
};
const resolver = async (name: string, type: string): Promise<string[][]> => {
  const v = TXT[name.toLowerCase()];
  if (type !== 'TXT' || !v) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  return [[v]];
};

const MSG = [
  'Received: from client by gw',
  'From: "Alice" <alice@example.test>',
  'To: bob@remote.test',
  'Subject:  Hello   world ',
  'Date: Sat, 28 Nov 2026 03:00:00 +0000',
  'Message-ID: <1@example.test>',
  'Content-Type: text/plain;',
  '\tcharset=utf-8',
  '',
  'Body  line \t',
  '',
  '',
].join('\r\n');

function chunks(s: string, n = 5): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < s.length; i += n) parts.push(Buffer.from(s.slice(i, i + n), 'latin1'));
  return Readable.from(parts);
}
async function text(r: Readable): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out).toString('latin1');
}
async function signedWith(msg: string, edits: HeaderEdit[] = []): Promise<string> {
  const sigs = await dkimHeaderEdits(new Map([['example.test', KEYS]]), 'example.test', () => applyHeaderEdits(chunks(msg), edits));
  return text(applyHeaderEdits(chunks(msg), [...(sigs ?? []), ...edits]));
}

t.test('RSA and Ed25519 signatures both verify', async (t) => {
  const signed = await signedWith(MSG, [{ op: 'prepend', name: 'X-TuxHat-Note', value: 'added by the verdict' }]);
  t.equal(signed.match(/^DKIM-Signature:/gm)?.length, 2);
  t.ok(signed.startsWith('DKIM-Signature: v=1; a=rsa-sha256'), 'the first key signature is on top');
  const res = await dkimVerify(Buffer.from(signed, 'latin1'), { resolver });
  t.same(res.results.map((r) => [r.signingDomain, r.selector, r.status.result]),
    [['example.test', 's2026rsa', 'pass'], ['example.test', 's2026ed', 'pass']]);
});

t.test('oversigning: From, To, Subject, Date, Message-ID listed once more than present', async (t) => {
  const [sig] = await dkimSignatures(chunks(MSG), [KEYS[0]!]);
  const h = /h=([^;]+);/.exec(sig!)![1]!.split(':');
  for (const name of ['from', 'to', 'subject', 'date', 'message-id']) t.equal(h.filter((x) => x === name).length, 2, name);
  t.equal(h.filter((x) => x === 'content-type').length, 1);
  t.notOk(h.includes('cc'), 'absent, not oversigned: not listed');
  t.notOk(h.includes('received'));
});

t.test('a header edit applied after signing breaks the signature (we sign the final bytes)', async (t) => {
  const sigs = await dkimHeaderEdits(new Map([['example.test', KEYS]]), 'example.test', () => chunks(MSG));
  const late = await text(applyHeaderEdits(chunks(MSG), [...sigs!, { op: 'prepend', name: 'Subject', value: 'forged' }]));
  const res = await dkimVerify(Buffer.from(late, 'latin1'), { resolver });
  t.same(res.results.map((r) => r.status.result), ['fail', 'fail']);
  // a field not in h= (Received) added later does not break it
  const ok = await text(applyHeaderEdits(chunks(MSG), [...sigs!, { op: 'prepend', name: 'X-Later', value: '1' }]));
  t.same((await dkimVerify(Buffer.from(ok, 'latin1'), { resolver })).results.map((r) => r.status.result), ['pass', 'pass']);
});

t.test('body canonicalization: chunking and an empty body', async (t) => {
  for (const msg of [MSG, 'From: a@example.test\r\nSubject: x\r\n\r\n', 'From: a@example.test\r\n\r\nno final newline']) {
    for (const n of [1, 3, 4096]) {
      const sigs = await dkimHeaderEdits(new Map([['example.test', KEYS]]), 'example.test', () => chunks(msg, n));
      const out = await text(applyHeaderEdits(chunks(msg), sigs!));
      t.same((await dkimVerify(Buffer.from(out, 'latin1'), { resolver })).results.map((r) => r.status.result), ['pass', 'pass'], `chunk ${n}`);
    }
  }
});

t.test('no key for the domain: null', async (t) => {
  t.equal(await dkimHeaderEdits(new Map([['example.test', KEYS]]), 'other.test', () => chunks(MSG)), null);
  t.equal(await dkimHeaderEdits(new Map(), null, () => chunks(MSG)), null);
});

t.test('signing domain: From header or envelope', async (t) => {
  t.equal(signingDomainOf('from', 'x@env.test', '"A, B" <a@Example.TEST>'), 'example.test');
  t.equal(signingDomainOf('from', 'x@env.test', 'a@plain.test'), 'plain.test');
  t.equal(signingDomainOf('envelope', 'x@Env.test', 'a@example.test'), 'env.test');
  t.equal(signingDomainOf('envelope', '', 'a@example.test'), null);
  t.equal(signingDomainOf('from', null, null), null);
});

t.test('key ring: directory layout, algorithm from the key type, configured selectors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tuxhat-dkim-'));
  mkdirSync(join(dir, 'example.test'));
  writeFileSync(join(dir, 'example.test', 'a.key'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'example.test', 'b.key'), ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'example.test', 'notes.txt'), 'ignored');
  const all = loadKeyRing(dir, {});
  t.same(all.get('example.test')?.map((k) => [k.selector, k.algorithm]), [['a', 'rsa-sha256'], ['b', 'ed25519-sha256']]);
  const one = loadKeyRing(dir, { 'example.test': { selectors: ['b'] } });
  t.same(one.get('example.test')?.map((k) => k.selector), ['b']);
  t.throws(() => loadKeyRing(dir, { 'example.test': { selectors: ['missing'] } }));
  t.equal(loadKeyRing(join(dir, 'nope'), {}).size, 0);
});
