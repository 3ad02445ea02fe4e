/*
 * test/e2e/harness/dsn.ts — checks an RFC 3464 delivery status notification as received by a
 * sink (smtp-sink dump): null sender, multipart/report, Action, Status, Final-Recipient, and the
 * original headers returned.
 */
import type { Test } from 'tap';
import type { SinkMessage } from './sink.js';

export interface DsnExpectation {
  /** The envelope recipient of the DSN: the original envelope sender. */
  to: string;
  /** The recipient that failed (Final-Recipient). */
  failed: string;
  /** The expected Status field, e.g. /^5\.1\.1$/. */
  status: RegExp;
  /** Message-ID of the original message, expected in the returned headers. */
  originalId: string;
  /** Default 'failed'. */
  action?: 'failed' | 'delayed';
}

/** Asserts that `m` is a DSN as described; returns the Status field. */
export function checkDsn(t: Test, m: SinkMessage, want: DsnExpectation): string | undefined {
  t.equal(m.mailFrom, '', 'DSN sent from the null sender <>');
  t.same(m.rcptTo, [want.to], 'DSN sent to the original envelope sender');
  t.match(m.get('content-type') ?? '', /^multipart\/report;.*report-type=delivery-status/, 'multipart/report; report-type=delivery-status');
  t.match(m.get('from') ?? '', /MAILER-DAEMON@/i, 'From: MAILER-DAEMON');
  t.match(m.get('auto-submitted') ?? '', /auto-replied/, 'Auto-Submitted: auto-replied');
  t.match(m.body, /Content-Type: message\/delivery-status/, 'has a message/delivery-status part');
  t.match(m.body, new RegExp(`^Action: ${want.action ?? 'failed'}$`, 'm'), `Action: ${want.action ?? 'failed'}`);
  const status = /^Status: (\S+)$/m.exec(m.body)?.[1];
  t.match(status ?? '(none)', want.status, `Status: ${status ?? '(none)'}`);
  t.ok(m.body.includes(`Final-Recipient: rfc822; ${want.failed}`), `Final-Recipient: rfc822; ${want.failed}`);
  t.match(m.body, /Content-Type: text\/rfc822-headers/, 'returns the original headers');
  t.ok(m.body.includes(`Message-ID: ${want.originalId}`) || m.body.includes(`Message-Id: ${want.originalId}`), 'the original Message-ID is in the returned headers');
  return status;
}
