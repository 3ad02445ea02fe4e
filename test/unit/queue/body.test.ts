/*
 * Unit tests of queue/body.ts applyHeaderEdits: prepends, removal of every field of a name, and
 * (issue 3) the precise removal of Authentication-Results claiming one authserv-id (RFC 8601 §5),
 * including folded fields, comments and quoted ids; the body is never touched.
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { applyHeaderEdits, authservIdOf } from '../../../gateway/src/queue/body.js';
import type { HeaderEdit } from '../../../gateway/src/core/index.js';

async function out(msg: string, edits: HeaderEdit[], chunk = 7): Promise<string> {
  const parts: Buffer[] = [];
  for (let i = 0; i < msg.length; i += chunk) parts.push(Buffer.from(msg.slice(i, i + chunk), 'latin1'));
  const chunks: Buffer[] = [];
  for await (const c of applyHeaderEdits(Readable.from(parts), edits)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

const MSG = [
  'Received: from x by y',
  'Authentication-Results: gw.tuxhat.test; spf=pass smtp.mailfrom=forged@bank.test',
  'Authentication-Results: (forged, folded)',
  ' GW.TUXHAT.TEST 1; dkim=pass',
  'Authentication-Results: mx.upstream.test; spf=fail',
  'Authentication-Results: "gw.tuxhat.test"; dmarc=pass',
  'Subject: Authentication-Results: gw.tuxhat.test; in the subject',
  '',
  'Authentication-Results: gw.tuxhat.test; this is body text',
  '',
].join('\r\n');

t.test('remove with match drops only fields with that authserv-id, folded or quoted, any case', async (t) => {
  const got = await out(MSG, [
    { op: 'remove', name: 'authentication-results', match: { authservId: 'gw.tuxhat.test' } },
    { op: 'prepend', name: 'Authentication-Results', value: 'gw.tuxhat.test; spf=pass' },
  ]);
  t.equal(got, [
    'Authentication-Results: gw.tuxhat.test; spf=pass',
    'Received: from x by y',
    'Authentication-Results: mx.upstream.test; spf=fail',
    'Subject: Authentication-Results: gw.tuxhat.test; in the subject',
    '',
    'Authentication-Results: gw.tuxhat.test; this is body text',
    '',
  ].join('\r\n'), 'our new field survives, others kept, body untouched');
});

t.test('remove without match drops every field of the name; an unconditional removal wins', async (t) => {
  const got = await out(MSG, [
    { op: 'remove', name: 'Authentication-Results', match: { authservId: 'other' } },
    { op: 'remove', name: 'Authentication-Results' },
  ], 1000);
  t.notMatch(got.split('\r\n\r\n')[0]!, /^Authentication-Results/m);
  t.match(got, /\r\n\r\nAuthentication-Results: gw\.tuxhat\.test; this is body text/);
});

t.test('prepend only, and no edits', async (t) => {
  t.equal(await out('A: 1\r\n\r\nbody\r\n', [{ op: 'prepend', name: 'X', value: 'y' }]), 'X: y\r\nA: 1\r\n\r\nbody\r\n');
  t.equal(await out('A: 1\r\n\r\nbody\r\n', []), 'A: 1\r\n\r\nbody\r\n');
});

t.test('authservIdOf', async (t) => {
  t.equal(authservIdOf(' gw.test; spf=pass'), 'gw.test');
  t.equal(authservIdOf(' (c (nested)) GW.test 1; none'), 'gw.test');
  t.equal(authservIdOf(' "gw.test"; none'), 'gw.test');
  t.equal(authservIdOf('gw.test;none'), 'gw.test');
  t.equal(authservIdOf('  '), null);
});
