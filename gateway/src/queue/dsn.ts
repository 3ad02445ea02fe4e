/*
 * queue/dsn.ts — RFC 3464 delivery status notifications for mail we accepted.
 *
 * Input: the original entry, the recipients that failed (or are delayed) and the original
 * headers. Output: the DSN as a complete RFC 5322 message (multipart/report) to send from the
 * null sender. Never called for the null sender or for a DSN (no bounce of a bounce), and never
 * for spam/virus verdicts: those are rejected in the SMTP session (ARCHITECTURE contract 2).
 * Only the original headers are returned (text/rfc822-headers), not the body: smaller, and no
 * content is reflected to a possibly forged sender.
 */
import { randomBytes } from 'node:crypto';
import type { QueueEntry, QueueRecipient } from '../core/index.js';

export type DsnKind = 'failed' | 'delayed';

export interface DsnInput {
  readonly entry: QueueEntry;
  readonly recipients: readonly QueueRecipient[];
  readonly kind: DsnKind;
  readonly reportingMta: string;
  readonly originalHeaders: string;
  readonly now?: Date;
}

export function needsDsn(entry: QueueEntry): boolean {
  return entry.mailFrom !== '' && !entry.isBounce;
}

export function buildDsn(input: DsnInput): Buffer {
  const { entry, recipients, kind, reportingMta } = input;
  const now = input.now ?? new Date();
  const boundary = `=_tuxhat_${randomBytes(12).toString('hex')}`;
  const subject = kind === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const human = kind === 'failed'
    ? `This is the mail gateway at ${reportingMta}.\r\n\r\nYour message could not be delivered to one or more recipients.\r\nIt has been returned below (headers only). Nothing further will be attempted.\r\n`
    : `This is the mail gateway at ${reportingMta}.\r\n\r\nYour message could not be delivered yet to one or more recipients.\r\nDelivery will be retried; you do not need to resend it.\r\n`;
  const perRcpt = recipients.map((r) => {
    const lines = [
      `Final-Recipient: rfc822; ${r.address}`,
      `Action: ${kind}`,
      `Status: ${r.lastDsn ?? (kind === 'failed' ? '5.0.0' : '4.0.0')}`,
    ];
    const relay = r.lastRelay ? r.lastRelay.replace(/\[.*$/, '') : '';
    // "dns" names a host; an address-only next hop or a local transport is left out.
    if (relay && /[a-z]/i.test(relay) && !relay.includes(':') && relay !== 'maildir') lines.push(`Remote-MTA: dns; ${relay}`);
    const remote = remoteReply(r.lastResponse);
    if (remote) lines.push(`Diagnostic-Code: smtp; ${remote}`);
    else if (r.lastResponse) lines.push(`X-TuxHat-Diagnostic: ${oneLine(r.lastResponse)}`);
    return lines.join('\r\n');
  });
  const humanList = recipients.map((r) => `<${r.address}>: ${oneLine(r.lastResponse ?? 'no further information')}`).join('\r\n');
  const parts = [
    `From: Mail Delivery System <MAILER-DAEMON@${reportingMta}>`,
    `To: <${entry.mailFrom}>`,
    `Subject: ${subject}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${entry.qid}.${kind}.${randomBytes(4).toString('hex')}@${reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    human,
    humanList,
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${reportingMta}`,
    `X-TuxHat-Queue-ID: ${entry.qid}`,
    `Arrival-Date: ${new Date(entry.receivedAt).toUTCString().replace('GMT', '+0000')}`,
    '',
    perRcpt.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    '',
    input.originalHeaders.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, ''),
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(parts.join('\r\n'), 'utf8');
}

/**
 * The remote server's own reply out of our log text ("host X[ip] said: 550 5.1.1 … (in reply to
 * RCPT TO command)"): RFC 3464 §2.3.6 wants the reply itself as the smtp diagnostic code.
 */
function remoteReply(response: string | undefined): string | null {
  if (!response) return null;
  const m = /said: ([2-5]\d\d[ -].*?)(?: \(in reply to [^)]*\))?$/s.exec(oneLine(response)) ?? /^([2-5]\d\d[ -].*)$/s.exec(oneLine(response));
  return m?.[1] ?? null;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 900);
}
