/*
 * Unit tests of `tuxhat dkim keygen` (cli/dkim-commands.ts): RSA 2048 and Ed25519 keys written
 * 0600 as <dir>/<domain>/<selector>.key, never overwritten, the TXT record split into 255-byte
 * strings whose p= matches the key, and the key loads into the signing key ring; as root, the
 * files get the state directory's owner.
 */
import t from 'tap';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyValue, txtRecord } from '../../../gateway/src/cli/dkim-commands.js';
import { loadKeyRing } from '../../../gateway/src/sign/index.js';
import { tuxhat } from './fixtures/capture.js';

function txtText(stdout: string): string {
  return [...stdout.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
}

t.test('keygen rsa and ed25519, the record, refusal to overwrite', async (t) => {
  const dir = t.testdir({});
  const rsa = await tuxhat(['dkim', 'keygen', 'Example.TEST', '--selector', 's1', '--dir', dir]);
  t.equal(rsa.code, 0, rsa.stderr);
  const file = join(dir, 'example.test', 's1.key');
  t.equal(statSync(file).mode & 0o777, 0o600);
  const key = createPrivateKey(readFileSync(file));
  t.equal(key.asymmetricKeyType, 'rsa');
  t.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  t.match(rsa.stdout, /^s1\._domainkey\.example\.test\. IN TXT "[^"]{255}" "[^"]+"\n$/);
  t.equal(txtText(rsa.stdout), `v=DKIM1; k=rsa; p=${publicKeyValue(createPublicKey(key))}`);

  const ed = await tuxhat(['dkim', 'keygen', 'example.test', '--selector', 's1ed', '--algorithm', 'ed25519', '--dir', dir]);
  t.equal(ed.code, 0, ed.stderr);
  t.match(ed.stdout, /^s1ed\._domainkey\.example\.test\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="\n$/);
  t.same(loadKeyRing(dir, {}).get('example.test')?.map((k) => [k.selector, k.algorithm]), [['s1', 'rsa-sha256'], ['s1ed', 'ed25519-sha256']]);

  const again = await tuxhat(['dkim', 'keygen', 'example.test', '--selector', 's1', '--dir', dir]);
  t.equal(again.code, 1);
  t.match(again.stderr, /exists; choose another --selector/);
  t.equal(createPrivateKey(readFileSync(file)).export({ type: 'pkcs8', format: 'pem' }), key.export({ type: 'pkcs8', format: 'pem' }), 'untouched');
});

t.test('keygen usage errors', async (t) => {
  const dir = t.testdir({});
  t.equal((await tuxhat(['dkim', 'keygen', 'not a domain', '--dir', dir])).code, 2);
  t.equal((await tuxhat(['dkim', 'keygen', 'example.test', '--algorithm', 'dsa', '--dir', dir])).code, 2);
  t.equal((await tuxhat(['dkim', 'keygen', 'example.test', '--selector', '../x', '--dir', dir])).code, 2);
  t.equal(txtRecord('d.test', 's', 'abc'), 's._domainkey.d.test. IN TXT "abc"');
});

t.test('run as root: new directories and the key belong to the owner of the state directory', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const state = join(t.testdir({}), 'state');
  mkdirSync(state);
  chownSync(state, 65534, 65534);
  const dir = join(state, 'dkim');
  t.equal((await tuxhat(['dkim', 'keygen', 'example.test', '--selector', 's', '--algorithm', 'ed25519', '--dir', dir])).code, 0);
  for (const p of [dir, join(dir, 'example.test'), join(dir, 'example.test', 's.key')]) t.equal(statSync(p).uid, 65534, p);
});
