import t from 'tap';
import { buildDsn, needsDsn } from '../../../gateway/src/queue/index.js';
import type { QueueEntry } from '../../../gateway/src/core/index.js';

const entry = {
  qid: '01ABCDEFGHJKMNPQRS', mailFrom: 'alice@example.org', receivedAt: Date.UTC(2026, 0, 1), isBounce: false,
} as unknown as QueueEntry;

t.test('diagnostic code is the remote reply itself; Remote-MTA only for host names', async (t) => {
  const dsn = buildDsn({
    entry, kind: 'failed', reportingMta: 'gw.test', originalHeaders: 'Subject: x\r\n',
    recipients: [
      { address: 'a@corp.test', state: 'bounced', attempts: 1, lastDsn: '5.1.1', lastRelay: 'mx.corp.test[192.0.2.1]:25', lastResponse: 'host mx.corp.test[192.0.2.1] said: 550 5.1.1 <a@corp.test>: no such user (in reply to RCPT TO command)' },
      { address: 'b@corp.test', state: 'bounced', attempts: 1, lastDsn: '5.1.10', lastRelay: '127.0.0.1[127.0.0.1]:2526', lastResponse: 'domain corp.test accepts no mail (null MX)' },
    ],
  }).toString();
  t.match(dsn, /Final-Recipient: rfc822; a@corp\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.corp\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <a@corp\.test>: no such user\r\n/);
  t.match(dsn, /Final-Recipient: rfc822; b@corp\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r\nX-TuxHat-Diagnostic: domain corp\.test accepts no mail/);
  t.notMatch(dsn, /Remote-MTA: dns; 127\.0\.0\.1/);
  t.match(dsn, /^To: <alice@example\.org>$/m);
});

t.test('no DSN for the null sender or for a DSN', async (t) => {
  t.ok(needsDsn(entry));
  t.notOk(needsDsn({ ...entry, mailFrom: '' }));
  t.notOk(needsDsn({ ...entry, isBounce: true }));
});
