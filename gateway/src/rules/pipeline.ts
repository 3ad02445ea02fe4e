/*
 * rules/pipeline.ts — the rules engine's seams in the receiving path (listen/server.ts):
 *   1. runRules: after the content checks, with all their hits → RulesOutcome for decide();
 *      adds the organisation-wide outbound disclaimer of the sender's domain;
 *   2. rewriteSpooledBody: after the verdict, before DKIM signing: the body transforms applied
 *      and the new body spooled (fsync'd) in place of the original, before the 250;
 *   3. notificationEntry: rule notifications as extra queue entries, committed before the 250
 *      too (the original a transform replaced goes to the quarantine store: listen/server.ts).
 * Runs in receiver workers.
 */
import type { Config } from '../config/index.js';
import { newQid, type BodyLocation, type BodyTransform, type Envelope, type Hit, type Message, type QueueEntry, type Session, type Verdict } from '../core/index.js';
import { headerValue, type ContentResult } from '../content/index.js';
import type { Spool } from '../queue/index.js';
import { readAll } from './content.js';
import { evaluateRules, loadRuleContent, type RulesOutcome } from './evaluate.js';
import type { RuleSet } from './load.js';
import { domainOf, headerAddress, type RuleFacts } from './match.js';
import { transformBody } from './transform.js';

export interface RulesRuntime {
  readonly set: RuleSet;
  /** Injectable clock for time-frame rules (tests: TUXHAT_RULES_CLOCK). */
  readonly now: () => Date;
}

/** The clock: TUXHAT_RULES_CLOCK (an ISO time, for tests and `rules test --at`) or the real one. */
export function rulesClock(env: NodeJS.ProcessEnv = process.env): () => Date {
  const fixed = env.TUXHAT_RULES_CLOCK;
  if (fixed && !Number.isNaN(Date.parse(fixed))) {
    const at = new Date(fixed);
    return () => at;
  }
  return () => new Date();
}

export function factsOf(config: Config, session: Session, envelope: Envelope, message: Message, hits: readonly Hit[], content: ContentResult | null, now: Date): Omit<RuleFacts, 'content'> {
  const auth = content?.authentication ?? null;
  return {
    direction: session.direction, listener: session.listener, clientIp: session.clientIp, authUser: session.authUser,
    mailFrom: envelope.mailFrom, recipients: envelope.recipients, headers: message.headers, size: message.size, hits,
    auth: auth ? { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc, arc: auth.arc } : null, now, localDomains: localDomainsOf(config),
  };
}

const localCache = new WeakMap<Config, ReadonlySet<string>>();
export function localDomainsOf(config: Config): ReadonlySet<string> {
  let set = localCache.get(config);
  if (!set) localCache.set(config, set = new Set(Object.keys(config.domains)));
  return set;
}

/** Evaluate the rules for one message (loading its content only when a rule needs it). */
export async function runRules(rt: RulesRuntime, config: Config, session: Session, envelope: Envelope, message: Message, content: ContentResult): Promise<RulesOutcome> {
  const loaded = await loadRuleContent(rt.set, session.direction, headerValue(message.headers, 'content-type'), message.openBody, config.rules.maxParseBytes);
  const facts: RuleFacts = { ...factsOf(config, session, envelope, message, content.hits, content, rt.now()), content: loaded === 'too-big' ? null : loaded };
  const out = evaluateRules(rt.set, facts, { qid: message.qid, postmaster: config.postmaster });
  if (session.direction === 'outbound') {
    const fromHeader = headerValue(message.headers, 'from');
    const domain = domainOf(envelope.mailFrom) || (fromHeader ? domainOf(headerAddress(fromHeader)) : '');
    const d = config.rules.disclaimers[domain];
    if (d && !out.bodyTransforms.some((t) => t.op === 'disclaimer' && t.text === d.text)) {
      out.bodyTransforms.push({ op: 'disclaimer', text: d.text, ...(d.html ? { html: d.html } : {}), rule: `disclaimer:${domain}` });
    }
  }
  return out;
}

export interface Rewritten {
  readonly body: BodyLocation;
  /** Spooled size (our Received header included). */
  readonly size: number;
  readonly applied: readonly string[];
  readonly skipped: string | null;
  /** The unmodified spooled message, when the verdict asks for it to be kept (quarantineOriginal). */
  readonly original: Buffer | null;
}

/**
 * Apply the verdict's body transforms to the spooled message and spool the result in its place
 * (same qid). The original is read whole (bounded by the listener's size limit, already
 * enforced); on a storage error the caller answers 4xx and nothing was promised.
 */
export async function rewriteSpooledBody(spool: Spool, qid: string, body: BodyLocation, size: number, contentType: string | null, transforms: readonly BodyTransform[], keepOriginal: boolean): Promise<Rewritten> {
  const raw = await readAll(spool.open(qid, body, size), Number.MAX_SAFE_INTEGER);
  if (raw === null) throw new Error('spooled message unreadable');
  const r = await transformBody(raw, contentType, transforms);
  if (r.body === raw) return { body, size, applied: r.applied, skipped: r.skipped, original: null };
  spool.remove(qid, body);
  const fresh = await spool.writeBuffer(qid, r.body);
  return { body: fresh, size: r.body.length, applied: r.applied, skipped: r.skipped, original: keepOriginal ? raw : null };
}

/**
 * A copy of a message parked in the queue's `hold` place (not delivered; `tuxhat queue` shows,
 * releases or deletes it). Stands in for the quarantine store (gateway/src/quarantine/, branch
 * wip/av) for the verdict's `quarantineOriginal` hand-off until that store is wired here.
 */
function encodeHeader(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

/** A rule's notification as a queue entry from the null sender (never bounced, never notified). */
export async function notificationEntry(spool: Spool, config: Config, base: QueueEntry, n: NonNullable<Verdict['notifications']>[number]): Promise<QueueEntry> {
  const qid = newQid();
  const now = new Date();
  const text = Buffer.from(n.text.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64').match(/.{1,76}/g)?.join('\r\n') ?? '';
  const data = Buffer.from([
    `From: TuxHat Mail Gateway <${config.postmaster}>`, `To: <${n.to}>`, `Subject: ${encodeHeader(n.subject)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`, `Message-ID: <${qid}.rule@${config.hostname}>`, 'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', text, '',
  ].join('\r\n'));
  const body = await spool.writeBuffer(qid, data);
  return {
    ...base, qid, state: 'incoming', body, size: data.length, mailFrom: '', messageId: `<${qid}.rule@${config.hostname}>`,
    recipients: [{ address: n.to, state: 'pending', attempts: 0 }], receivedAt: now.getTime(), nextAttemptAt: now.getTime(),
    attempts: 0, headerEdits: [], isBounce: true, delayWarned: false, bodyType: '8bitmime', smtpUtf8: false,
    receipt: { from: '', to: [n.to], size: data.length, notificationFor: base.qid, rule: n.rule, action: 'deliver' },
  };
}
