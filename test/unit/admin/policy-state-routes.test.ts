/*
 * Unit tests of admin/policy-state-routes.ts through handleAdminRequest: the reputation and
 * greylist endpoints map to PolicyStateAdmin calls; bad subjects are 400, unknown ones 404,
 * wrong methods 405; other paths fall through to the queue routes.
 */
import t from 'tap';
import { handleAdminRequest } from '../../../gateway/src/admin/routes.js';
import type { PolicyStateAdmin } from '../../../gateway/src/admin/policy-state-routes.js';
import type { AdminBackend } from '../../../gateway/src/admin/index.js';
import { FakeBackend } from './fixtures/fake-backend.js';

const calls: string[] = [];
const policyState: PolicyStateAdmin = {
  async reputationShow(s) {
    calls.push(`show ${s}`);
    if (s === 'bad!') return null;
    return s === '192.0.2.1' ? [{ key: 'ip:192.0.2.0/24', scope: 'ip', subject: '192.0.2.0/24', counts: { ham: 1, spam: 0, virus: 0, reject: 0, authfail: 0 }, cls: 'unknown', badShare: 0, since: 0 }] : [];
  },
  async reputationReset(s) { calls.push(`reset ${s}`); return s === 'bad!' ? null : 2; },
  async greylistList() { return []; },
  async greylistRelease(m) { calls.push(`release ${m}`); return m === 'bad!' ? null : 3; },
};
const backend = Object.assign(new FakeBackend(), { policyState }) as unknown as AdminBackend;
const req = (method: string, path: string) => handleAdminRequest(backend, method, new URL(`http://x${path}`));

t.test('reputation and greylist endpoints', async (t) => {
  t.match(await req('GET', '/reputation/192.0.2.1'), { status: 200, json: { subject: '192.0.2.1', entries: [{ subject: '192.0.2.0/24' }] } });
  t.match(await req('GET', '/reputation/2001%3Adb8%3A%3A%2F64'), { status: 404 }, 'an encoded network is one segment; nothing known: 404');
  t.ok(calls.includes('show 2001:db8::/64'), 'decoded before the call');
  t.match(await req('GET', '/reputation/bad!'), { status: 400 });
  t.match(await req('DELETE', '/reputation/example.com'), { status: 200, json: { removed: 2 } });
  t.match(await req('POST', '/reputation/example.com'), { status: 405, allow: 'GET, DELETE' });
  t.match(await req('GET', '/greylist'), { status: 200, json: { entries: [] } });
  t.match(await req('POST', '/greylist/release/a%40b.example'), { status: 200, json: { match: 'a@b.example', released: 3 } });
  t.match(await req('GET', '/greylist/release/x'), { status: 405 });
  t.match(await req('POST', '/greylist/release/bad!'), { status: 400 });
  t.match(await req('GET', '/status'), { status: 200 }, 'other routes still answer');
});

t.test('without policyState the endpoints do not exist', async (t) => {
  const r = await handleAdminRequest(new FakeBackend() as unknown as AdminBackend, 'GET', new URL('http://x/greylist'));
  t.equal(r.status, 404);
});
