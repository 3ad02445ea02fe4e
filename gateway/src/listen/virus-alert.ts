/*
 * listen/virus-alert.ts — tell the postmaster when an internal sender (outbound direction) sent a
 * virus: its machine or account is probably compromised.
 *
 * Always one `alert` log line (qid, client, user, sender, virus). With antivirus.alertPostmaster,
 * also a short plain-text mail to config.postmaster through the normal queue (spool + queue
 * commit, then delivery like any message): no message content, only the facts. The alert is
 * best effort: a failure is logged and never changes the reply to the sender (already 554 or
 * quarantine). Runs in receiver workers.
 */
import { newQid, type QueueEntry, type Session } from '../core/index.js';
import type { Config } from '../config/index.js';
import { logEvent, type Logger } from '../log/index.js';
import { enqueue, type Spool } from '../queue/index.js';
import type { StateEnvs } from '../state/index.js';

export interface VirusAlert {
  readonly qid: string;
  readonly session: Session;
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly virus: string;
  /** What happened to the message: rejected (554) or quarantined. */
  readonly outcome: 'rejected' | 'quarantined';
}

export interface VirusAlertDeps {
  readonly config: Config;
  readonly state: StateEnvs;
  readonly spool: Spool;
  readonly log: Logger;
  readonly notifyQueued: () => void;
}

/** The alert mail (RFC 5322, CRLF). Header values are built from checked envelope data only. */
export function alertMessage(config: Config, a: VirusAlert, alertQid: string, now = new Date()): Buffer {
  const clean = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, 300);
  const lines = [
    `From: TuxHat gateway <MAILER-DAEMON@${config.hostname}>`,
    `To: <${config.postmaster}>`,
    `Subject: [TuxHat] virus sent by an internal sender: ${clean(a.virus)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${alertQid}.alert@${config.hostname}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'An internal sender sent a message that contains a virus. The sending machine or account',
    'is probably compromised.',
    '',
    `Queue id:        ${a.qid}`,
    `Virus:           ${clean(a.virus)}`,
    `Outcome:         ${a.outcome === 'rejected' ? 'rejected in the SMTP session (554 5.7.1)' : 'quarantined (tuxhat quarantine show ' + a.qid + ')'}`,
    `Client:          ${a.session.clientIp} (listener ${a.session.listener})`,
    `Authenticated:   ${a.session.authUser ?? '(none)'}`,
    `Envelope sender: <${clean(a.mailFrom)}>`,
    `Recipients:      ${a.recipients.map((r) => `<${clean(r)}>`).join(', ')}`,
    '',
    `Details: tuxhat trace ${a.qid}`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

export async function alertPostmaster(deps: VirusAlertDeps, a: VirusAlert): Promise<void> {
  const { config, log } = deps;
  log.warn({ event: 'alert', qid: a.qid, alert: 'outbound-virus', client: a.session.clientIp, user: a.session.authUser, from: a.mailFrom, to: a.recipients, virus: a.virus, outcome: a.outcome }, 'virus from an internal sender');
  if (!config.antivirus.alertPostmaster) return;
  const qid = newQid();
  try {
    const body = alertMessage(config, a, qid);
    const where = await deps.spool.writeBuffer(qid, body);
    const now = Date.now();
    const entry: QueueEntry = {
      qid, state: 'incoming', direction: 'outbound', listener: 'alert', client: 'localhost', helo: config.hostname,
      authUser: null, mailFrom: '', recipients: [{ address: config.postmaster, state: 'pending', attempts: 0 }],
      size: body.length, body: where, messageId: `<${qid}.alert@${config.hostname}>`, bodyType: '8bitmime', smtpUtf8: false,
      receivedAt: now, nextAttemptAt: now, attempts: 0, headerEdits: [], isBounce: true, delayWarned: false,
      receipt: { from: '', to: [config.postmaster], size: body.length, alertFor: a.qid, action: 'deliver' },
    };
    await enqueue(deps.state, entry);
    logEvent(log, 'queued', { qid, from: '', to: [config.postmaster], size: body.length, alertFor: a.qid });
    deps.notifyQueued();
  } catch (err) {
    log.error({ event: 'alert', qid: a.qid, err: (err as Error).message }, 'could not queue the postmaster alert');
  }
}
