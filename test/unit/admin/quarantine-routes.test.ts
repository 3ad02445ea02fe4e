/*
 * Unit tests of the /quarantine admin routes (admin/routes.ts) with a fake QuarantineAdmin:
 * query parameters reach the backend (recipient, to, by), QuarantineError becomes 404/409 with
 * its sentence, and a backend without a quarantine answers 404.
 */
import t from 'tap';
import { handleAdminRequest } from '../../../gateway/src/admin/routes.js';
import { QuarantineError, type QuarantineAdmin } from '../../../gateway/src/quarantine/index.js';
import { FakeBackend, QID_A } from './fixtures/fake-backend.js';

const calls: unknown[] = [];
const quarantine: QuarantineAdmin = {
  async list(opts) { calls.push(['list', opts]); return []; },
  async show(qid) { return qid === QID_A ? { record: { qid } as never, headers: 'Subject: x\r\n' } : null; },
  async release(qid, to, by) {
    if (to.includes('gone@corp.test')) throw new QuarantineError(409, `gone@corp.test of ${qid} is already released`);
    calls.push(['release', qid, to, by]);
    return { qid, released: [...to], queuedAs: QID_A };
  },
  async delete(qid, to, by) { calls.push(['delete', qid, to, by]); return { qid, deleted: [...to] }; },
  async learn(qid, cls, by) { calls.push(['learn', qid, cls, by]); return { qid, learned: cls, result: 'learned' as const }; },
};
const backend = Object.assign(new FakeBackend(), { quarantine });
const req = (method: string, path: string, b: object = backend) => handleAdminRequest(b as FakeBackend, method, new URL(path, 'http://localhost'));

t.test('routes pass their parameters and map errors', async (t) => {
  t.match(await req('GET', '/quarantine?recipient=a%40corp.test'), { status: 200, json: { entries: [] } });
  t.same(calls.pop(), ['list', { recipient: 'a@corp.test', all: false }]);
  t.match(await req('GET', `/quarantine/${QID_A.toLowerCase()}`), { status: 200, json: { headers: 'Subject: x\r\n' } });
  t.match(await req('GET', '/quarantine/01HZZZZZZZDDDDDDDD'), { status: 404, json: { error: /no quarantined message/ } });
  t.match(await req('POST', `/quarantine/${QID_A}/release?to=a%40corp.test&to=b%40corp.test&by=carol`), { status: 200, json: { released: ['a@corp.test', 'b@corp.test'] } });
  t.same(calls.pop(), ['release', QID_A, ['a@corp.test', 'b@corp.test'], 'carol']);
  t.match(await req('POST', `/quarantine/${QID_A}/release?to=gone%40corp.test`), { status: 409, json: { error: /already released/ } });
  t.match(await req('DELETE', `/quarantine/${QID_A}`), { status: 200 });
  t.same(calls.pop(), ['delete', QID_A, [], 'admin-api'], 'no `by`: recorded as admin-api');
  t.match(await req('POST', `/quarantine/${QID_A}/learn?as=spam&by=erin`), { status: 200, json: { learned: 'spam', result: 'learned' } });
  t.same(calls.pop(), ['learn', QID_A, 'spam', 'erin']);
  t.match(await req('POST', `/quarantine/${QID_A}/learn?as=maybe`), { status: 400, json: { error: 'as=spam or as=ham' } });
  t.match(await req('GET', '/quarantine/nope'), { status: 400 });
  t.match(await req('GET', '/quarantine', new FakeBackend()), { status: 404, json: { error: 'this gateway has no quarantine' } });
});
