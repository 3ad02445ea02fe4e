/*
 * policy/checks/hold-notice.ts — the notice mail to config.postmaster when an outbound rate
 * limit put a sender's mail on hold (a compromised account, usually). Written to the spool and
 * queued like any message, from <> (never bounced, never answered), so the postmaster learns of
 * it even without reading logs. Runs in receiver workers.
 */
import type { Config } from '../../config/index.js';
import { newQid, type QueueEntry } from '../../core/index.js';
import { enqueue, type Spool } from '../../queue/index.js';
import type { StateEnvs } from '../../state/index.js';

export interface HoldNoticeFacts {
  readonly heldQid: string;
  readonly user: string | null;
  readonly client: string;
  readonly mailFrom: string;
  readonly reason: string;
}

export function holdNoticeText(config: Config, f: HoldNoticeFacts, now = new Date()): string {
  const who = f.user ?? (f.mailFrom || '<>');
  return [
    `From: TuxHat Gateway <MAILER-DAEMON@${config.hostname}>`,
    `To: ${config.postmaster}`,
    `Subject: Outbound mail of ${who} put on hold (rate limit)`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${f.heldQid}.hold@${config.hostname}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `The gateway ${config.hostname} put outbound mail on hold because a rate limit was exceeded.`,
    '',
    `  reason:          ${f.reason}`,
    `  user:            ${f.user ?? '(not authenticated)'}`,
    `  envelope sender: ${f.mailFrom || '<>'}`,
    `  client:          ${f.client}`,
    `  first held:      ${f.heldQid}`,
    '',
    'Further mail over the limit is held too (nothing is lost) and this notice is not repeated',
    'within the same rate window. If the account is compromised, change its password first.',
    'Then inspect and release or delete the held mail:',
    '',
    '  tuxhat queue list --state hold',
    '  tuxhat queue release QID     (or: tuxhat queue delete QID)',
    '',
  ].join('\r\n');
}

export async function queueHoldNotice(config: Config, state: StateEnvs, spool: Spool, f: HoldNoticeFacts): Promise<string> {
  const body = Buffer.from(holdNoticeText(config, f));
  const qid = newQid();
  const where = await spool.writeBuffer(qid, body);
  const now = Date.now();
  const entry: QueueEntry = {
    qid, state: 'incoming', direction: 'outbound', listener: 'notice', client: 'localhost', helo: config.hostname,
    authUser: null, mailFrom: '', recipients: [{ address: config.postmaster, state: 'pending', attempts: 0 }],
    size: body.length, body: where, messageId: `<${f.heldQid}.hold@${config.hostname}>`, bodyType: '8bitmime', smtpUtf8: false,
    receivedAt: now, nextAttemptAt: now, attempts: 0, headerEdits: [], isBounce: true, delayWarned: false,
    receipt: { from: '', to: [config.postmaster], size: body.length, noticeFor: f.heldQid, action: 'deliver' },
  };
  await enqueue(state, entry);
  return qid;
}
