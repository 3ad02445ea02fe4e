/*
 * policy/checks/data-stage.ts — the policy that can only be decided after DATA.
 *
 * Before the verdict (reputationHits): the reputation symbols of the client network, the
 * envelope sender domain and the DKIM-aligned domain join the content hits, so good reputation
 * lowers the score and bad raises it. After the verdict (afterVerdict), for mail about to be
 * queued: inbound, greylist the doubtful (score ≥ greylisting.dataScore, not aligned, not of good
 * reputation) and count the message, its recipients and its bytes against the inbound limits
 * (450 4.7.1 over them); outbound, count
 * messages, recipients and bytes against the outbound limits, and over a limit the mail is put
 * on hold with a postmaster alert (once per counter and window). Then learnFromVerdict (in
 * reputation-view.ts) teaches the store. Runs in receiver workers.
 */
import type { Config } from '../../config/index.js';
import type { AuthenticationOutcome, Hit, ReplyKey, Session, Verdict } from '../../core/index.js';
import { policyStores, ReputationStore, type RateExceeded, type StateEnvs } from '../../state/index.js';
import { goodReputation, greylistable, greylistDecision } from './greylist.js';
import { describeExceeded, rateRequests } from './rate-limit.js';
import { alignedDkimDomain, clientKey, look, senderDomainKey, symbolsOfLooks } from './reputation-view.js';

export interface DataStageContext {
  readonly config: Config;
  readonly state: StateEnvs;
  readonly session: Session;
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  /** Measured message size in bytes. */
  readonly size: number;
}

export type DataStageOutcome =
  | { readonly kind: 'accept'; readonly hits: readonly Hit[] }
  | { readonly kind: 'defer'; readonly reply: ReplyKey; readonly detail?: string; readonly hits: readonly Hit[] }
  | { readonly kind: 'hold'; readonly reason: string; readonly exceeded: RateExceeded; readonly alert: boolean; readonly hits: readonly Hit[] };

/** Reputation symbols for the content score (inbound only). */
export function reputationHits(ctx: DataStageContext, contentHits: readonly Hit[], auth: AuthenticationOutcome | null): Hit[] {
  try {
    return reputationHitsOf(ctx, contentHits, auth);
  } catch {
    // Reputation only weighs: a cache that cannot be read means no reputation symbols, not a 4xx.
    return [];
  }
}

function reputationHitsOf(ctx: DataStageContext, contentHits: readonly Hit[], auth: AuthenticationOutcome | null): Hit[] {
  const { config, session } = ctx;
  if (!config.reputation.enabled || session.direction !== 'inbound') return [];
  const store = policyStores(ctx.state).reputation;
  const from = senderDomainKey(ctx.mailFrom);
  const dkim = alignedDkimDomain(contentHits, auth);
  return symbolsOfLooks([
    look(store, config, 'ip', clientKey(config, session.clientIp), Date.now(), session),
    ...(from ? [look(store, config, 'from', from, Date.now(), session)] : []),
    ...(dkim ? [look(store, config, 'dkim', ReputationStore.key('dkim', dkim), Date.now(), session)] : []),
  ]);
}

export async function afterVerdict(ctx: DataStageContext, verdict: Verdict, auth: AuthenticationOutcome | null): Promise<DataStageOutcome> {
  try {
    return await afterVerdictOf(ctx, verdict, auth);
  } catch (err) {
    // Cannot check the limits or the greylist (e.g. the cache is full): 4xx, never pass unchecked.
    return { kind: 'defer', reply: 'LOCAL_ERROR', hits: [{ name: 'POLICY_STATE_TEMPFAIL', score: 0, detail: (err as Error).message }] };
  }
}

async function afterVerdictOf(ctx: DataStageContext, verdict: Verdict, auth: AuthenticationOutcome | null): Promise<DataStageOutcome> {
  const { config, session } = ctx;
  if (verdict.action !== 'deliver' && verdict.action !== 'tag') return { kind: 'accept', hits: [] };
  const stores = policyStores(ctx.state);
  if (session.direction === 'inbound') {
    const aligned = auth?.dmarc === 'pass' || verdict.hits.some((h) => h.name === 'REPUTATION_DKIM_GOOD');
    if (verdict.score >= config.greylisting.dataScore && !aligned && greylistable(config, session) && !goodReputation(stores, config, session, ctx.mailFrom)) {
      const d = greylistDecision(stores, config, session, ctx.mailFrom, ctx.recipients, `score ${verdict.score}`);
      if (d.action !== 'accept') return { kind: 'defer', reply: d.reply, hits: d.hits ?? [] };
    }
    // The one check-and-count of the message (MAIL and RCPT only looked): exact across workers.
    const reqs = rateRequests(config, 'inbound', session, ctx.mailFrom, { messages: 1, recipients: ctx.recipients.length, bytes: ctx.size });
    const exceeded = reqs.length > 0 ? await stores.rates.consumeBatched(reqs, 'all-or-nothing') : null;
    if (exceeded) return { kind: 'defer', reply: 'RATE_LIMITED', hits: [{ name: 'RATELIMIT_EXCEEDED', score: 0, detail: describeExceeded(exceeded) }] };
    return { kind: 'accept', hits: [] };
  }
  const reqs = rateRequests(config, 'outbound', session, ctx.mailFrom, { messages: 1, recipients: ctx.recipients.length, bytes: ctx.size });
  const exceeded = reqs.length > 0 ? await stores.rates.consumeBatched(reqs, 'always') : null;
  if (!exceeded) return { kind: 'accept', hits: [] };
  // One alert per counter and window, however many messages are held in it.
  const alert = stores.rates.consume([{ key: `alert:${exceeded.key}`, windowMs: exceeded.windowMs, limits: { messages: 1 }, add: { messages: 1 } }], 'all-or-nothing') === null;
  const reason = `outbound rate limit: ${describeExceeded(exceeded)}`;
  return { kind: 'hold', reason, exceeded, alert, hits: [{ name: 'RATELIMIT_HOLD', score: 0, detail: describeExceeded(exceeded) }] };
}
