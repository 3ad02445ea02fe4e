/*
 * policy/checks/rate-limit.ts — rate limits per client IP, envelope sender, sender domain and
 * authenticated user; messages, recipients and bytes per window (several windows each).
 *
 * Inbound (mx): MAIL and RCPT ask whether one more message / recipient would still fit (a read:
 * a client over its limit is refused there, before it sends anything); after DATA the message,
 * its recipients and its bytes are checked and counted in one write transaction
 * (data-stage.ts), all or nothing, so exactly `limit` units are accepted per window whatever the
 * number of workers (state/rate-counters.ts) — a burst that raced past MAIL is refused after DATA.
 * One write per message instead of one per command: the write lock is shared by every worker.
 * Over a limit: 450 4.7.1 RATE_LIMITED. Outbound
 * (submission, relay): everything is counted after DATA, and over a limit the mail is accepted
 * and put on HOLD (data-stage.ts): a compromised account is stopped without losing its mail.
 * Counters live in LMDB, so all worker processes share them. Runs in receiver workers.
 */
import type { Config } from '../../config/index.js';
import type { Decision, Direction, Hit, Session } from '../../core/index.js';
import { policyStores, RATE_UNITS, type RateAmounts, type RateExceeded, type RateRequest, type RateUnit } from '../../state/index.js';
import { defineCheck } from '../check.js';
import { splitAddress } from '../address.js';

type KeyKind = 'clientIp' | 'sender' | 'senderDomain' | 'user';

interface WindowSpec { readonly kind: KeyKind; readonly windowMs: number; readonly limits: RateAmounts; readonly units: ReadonlySet<RateUnit> }
const KINDS = ['clientIp', 'sender', 'senderDomain', 'user'] as const;
const compiledWindows = new WeakMap<object, WindowSpec[]>();

/** The configured windows of one direction, flattened once per loaded config (asked at every command). */
function windowsOf(limits: Config['rateLimits']['inbound']): WindowSpec[] {
  let w = compiledWindows.get(limits);
  if (!w) {
    w = KINDS.flatMap((kind) => limits[kind].map((x) => ({
      kind, windowMs: x.windowMs,
      limits: { messages: x.messages, recipients: x.recipients, bytes: x.bytes },
      units: new Set(RATE_UNITS.filter((u) => x[u] !== undefined)),
    })));
    compiledWindows.set(limits, w);
  }
  return w;
}

/** The counters an envelope touches, with the windows that limit `unit` (or every unit when omitted). */
export function rateRequests(config: Config, direction: Direction, session: Session, mailFrom: string, add: RateAmounts, only?: RateUnit): RateRequest[] {
  const windows = windowsOf(direction === 'inbound' ? config.rateLimits.inbound : config.rateLimits.outbound);
  if (windows.length === 0) return [];
  const keys = scopeKeys(direction, session, mailFrom);
  const out: RateRequest[] = [];
  for (const w of windows) {
    const key = keys[w.kind];
    if (key === null || (only !== undefined && !w.units.has(only))) continue;
    out.push({ key, windowMs: w.windowMs, limits: w.limits, add });
  }
  return out;
}

/** The scope keys of a transaction, built once for its MAIL, RCPTs and the count after DATA. */
const transactionKeys = new WeakMap<Session, { direction: Direction; mailFrom: string; user: string | null; keys: Record<KeyKind, string | null> }>();

function scopeKeys(direction: Direction, session: Session, mailFrom: string): Record<KeyKind, string | null> {
  const seen = transactionKeys.get(session);
  // AUTH may come between two transactions of one session: the user is part of what is compared.
  if (seen && seen.direction === direction && seen.mailFrom === mailFrom && seen.user === session.authUser) return seen.keys;
  const prefix = direction === 'inbound' ? 'in' : 'out';
  const domain = mailFrom === '' ? null : splitAddress(mailFrom)?.domain ?? null;
  const key = (kind: KeyKind, id: string | null) => (id === null ? null : `${prefix}:${kind}:${id}`);
  const keys = {
    clientIp: key('clientIp', session.clientIp),
    sender: key('sender', mailFrom === '' ? '<>' : mailFrom.toLowerCase()),
    senderDomain: key('senderDomain', domain),
    user: key('user', session.authUser),
  };
  transactionKeys.set(session, { direction, mailFrom, user: session.authUser, keys });
  return keys;
}

export function describeExceeded(e: RateExceeded): string {
  const [, kind, ...id] = e.key.split(':');
  return `${e.unit} per ${e.windowMs / 1000} s for ${kind} ${id.join(':')} (limit ${e.limit})`;
}

function inboundLimit(ctx: { config: Config; session: Session; envelope: { mailFrom: string }; state?: import('../../state/index.js').StateEnvs }, unit: RateUnit, amount: number): Decision | Hit[] {
  if (ctx.session.direction !== 'inbound' || !ctx.state) return [];
  const reqs = rateRequests(ctx.config, 'inbound', ctx.session, ctx.envelope.mailFrom, { [unit]: amount }, unit);
  if (reqs.length === 0) return [];
  const exceeded = policyStores(ctx.state).rates.peek(reqs);
  if (!exceeded) return [];
  const detail = describeExceeded(exceeded);
  return { action: 'defer', reply: 'RATE_LIMITED', hits: [{ name: 'RATELIMIT_EXCEEDED', score: 0, detail }] };
}

export const rateLimitMail = defineCheck({
  name: 'rate_limit',
  phase: 'mail',
  timeoutMs: 1000,
  run: (ctx) => inboundLimit(ctx, 'messages', 1),
});

export const rateLimitRcpt = defineCheck({
  name: 'rate_limit_rcpt',
  phase: 'rcpt',
  timeoutMs: 1000,
  run: (ctx) => {
    // Checks of a phase run side by side: do not count a recipient relay_access will refuse.
    const domain = splitAddress(ctx.recipient ?? '')?.domain;
    if (ctx.session.kind === 'mx' && (!domain || !Object.hasOwn(ctx.config.domains, domain))) return [];
    // This transaction's recipients so far are not counted yet (that happens after DATA).
    return inboundLimit(ctx, 'recipients', ctx.envelope.recipients.length + 1);
  },
});
