/*
 * policy/checks/reputation-view.ts — what the reputation store says about this client, sender
 * and DKIM domain, as symbols; and what a verdict or a session reject teaches it.
 *
 * Read side: a client network (/24, /64), the envelope sender domain and (after DATA) the
 * DKIM-aligned domain are looked up and classified (state/reputation.ts classify): good → a
 * negative-score symbol, bad → a positive one, neutral or unknown → nothing. Scores come from
 * rules/scores/reputation.yaml. Write side (learn*): only inbound (mx) mail teaches, outbound
 * mail is our own users'. A session 5xx counts once per session, for the network only. A verdict counts as virus (AV_VIRUS), spam (rejected, quarantined, or
 * scoring reputation.spamScore without the reputation symbols themselves, so reputation does
 * not feed on itself) or ham; an SPF or DMARC fail also counts as an authentication failure.
 * Runs in receiver workers.
 */
import type { Config } from '../../config/index.js';
import type { AuthenticationOutcome, Hit, Session, Verdict } from '../../core/index.js';
import { loadScores, type ScoreTable } from '../../content/scores.js';
import { classify, decay, maskedNetwork, ReputationStore, zeroCounts, type ReputationClass, type ReputationKind, type ReputationRecord, type ReputationScope } from '../../state/index.js';
import { splitAddress } from '../address.js';
import { forgetLooks, sessionLooks } from '../session-state.js';

export const REPUTATION_SYMBOLS = [
  'REPUTATION_IP_GOOD', 'REPUTATION_IP_BAD', 'REPUTATION_SENDER_GOOD', 'REPUTATION_SENDER_BAD', 'REPUTATION_DKIM_GOOD', 'REPUTATION_DKIM_BAD',
] as const;

let table: ScoreTable | null = null;
/** rules/scores/reputation.yaml, loaded once per process (a broken file throws at the first use: listener creation). */
export function reputationScores(dir?: string): ScoreTable {
  if (!table || dir !== undefined) table = loadScores('reputation', REPUTATION_SYMBOLS, dir);
  return table;
}

export interface ReputationLook {
  readonly scope: ReputationScope;
  readonly key: string;
  readonly cls: ReputationClass;
  readonly record: ReputationRecord | null;
}

const SYMBOL: Record<ReputationScope, string> = { ip: 'IP', from: 'SENDER', dkim: 'DKIM' };

export function clientKey(config: Config, ip: string): string {
  return ReputationStore.key('ip', maskedNetwork(ip, config.reputation.ipv4Prefix, config.reputation.ipv6Prefix));
}

export function senderDomainKey(mailFrom: string): string | null {
  const d = mailFrom === '' ? null : splitAddress(mailFrom)?.domain;
  return d ? ReputationStore.key('from', d) : null;
}

/** The DKIM-pass signing domain aligned (relaxed, RFC 7489 §3.1.1 approximated by suffix) with the From domain. */
export function alignedDkimDomain(hits: readonly Hit[], auth: AuthenticationOutcome | null): string | null {
  const from = auth?.fromDomain?.toLowerCase();
  if (!from) return null;
  const passed = hits.filter((h) => h.name === 'DKIM_ALLOW').flatMap((h) => (h.detail ?? '').split(' ')).map((w) => w.split(':s=')[0]!.toLowerCase()).filter((d) => d !== '');
  return passed.find((d) => d === from || from.endsWith(`.${d}`) || d.endsWith(`.${from}`)) ?? null;
}

/**
 * A message asks for the same keys several times (MAIL, RCPT greylisting, after DATA): within one
 * SMTP session a look is reused (each LMDB get and decay was a visible share of the receivers'
 * CPU); the memo lives with the rest of the session's policy state (policy/session-state.ts),
 * and what this session teaches empties it.
 *
 * Across sessions, a record read from the store is reused for RECENT_MS by this process (most
 * clients send several messages in a row, each on a new connection); what this process learns
 * is applied to the reused record at once (the same arithmetic as the store's), so only another
 * receiver's lesson or a reset waits up to RECENT_MS. The look (class and symbols) is kept with
 * the record: most messages of a busy client find both ready.
 */
const RECENT_MS = 1000;
interface Recent {
  until: number;
  readonly store: ReputationStore;
  record: ReputationRecord | null;
  /** When it was read (a sequence number): a read between a lesson and its commit misses the lesson. */
  readonly readSeq: number;
  look?: { config: Config; scope: ReputationScope; look: ReputationLook; hits: Hit[] };
}
const recent = new Map<string, Recent>();
let seq = 0;

function readRecent(store: ReputationStore, key: string, halfLifeMs: number, now: number): Recent {
  const hit = recent.get(key);
  if (hit && hit.until > now && hit.store === store) return hit;
  const e: Recent = { until: now + RECENT_MS, store, record: store.get(key, halfLifeMs, now), readSeq: ++seq };
  if (recent.size >= 10_000) recent.clear();
  recent.set(key, e);
  return e;
}

/** Apply this process's lesson to a reused record (as ReputationStore.flush does to the stored one). */
function teachRecent(store: ReputationStore, key: string, kinds: readonly ReputationKind[], halfLifeMs: number, now: number): void {
  const e = recent.get(key);
  if (!e || e.store !== store) return;
  const r = e.record;
  const counts = r ? decay(r.counts, now - r.at, halfLifeMs) : zeroCounts();
  for (const k of kinds) counts[k] += 1;
  e.record = { counts, at: now, since: r?.since ?? now };
  delete e.look;
}

/** Once a lesson is committed: a record read while it was pending lacks it, so read it again. */
function afterCommit(keys: readonly string[], learntAt: number): void {
  for (const k of keys) {
    const e = recent.get(k);
    if (e && e.readSeq > learntAt) recent.delete(k);
  }
}

function lookOf(config: Config, scope: ReputationScope, key: string, record: ReputationRecord | null): ReputationLook {
  return { scope, key, cls: record ? classify(record.counts, config.reputation).cls : 'unknown', record };
}

export function look(store: ReputationStore, config: Config, scope: ReputationScope, key: string, now = Date.now(), session?: Session): ReputationLook {
  if (!session) return lookOf(config, scope, key, store.get(key, config.reputation.halfLifeMs, now));
  const memo = sessionLooks<ReputationLook>(session);
  const hit = memo.get(key);
  if (hit) return hit;
  const e = readRecent(store, key, config.reputation.halfLifeMs, now);
  if (e.look?.config !== config || e.look.scope !== scope) {
    const l = lookOf(config, scope, key, e.record);
    e.look = { config, scope, look: l, hits: symbolsOf([l], reputationScores()) };
  }
  const l = e.look.look;
  memo.set(key, l);
  return l;
}

/** The symbols of looks, reusing those computed with a reused record. */
export function symbolsOfLooks(looks: readonly ReputationLook[]): Hit[] {
  const hits: Hit[] = [];
  for (const l of looks) {
    const e = recent.get(l.key)?.look;
    if (e?.look === l) hits.push(...e.hits);
    else hits.push(...symbolsOf([l], reputationScores()));
  }
  return hits;
}

export function symbolsOf(looks: readonly ReputationLook[], scores: ScoreTable): Hit[] {
  const hits: Hit[] = [];
  for (const l of looks) {
    if (l.cls !== 'good' && l.cls !== 'bad') continue;
    const c = l.record!.counts;
    hits.push(scores.hit(`REPUTATION_${SYMBOL[l.scope]}_${l.cls.toUpperCase()}`, `${l.key.slice(l.key.indexOf(':') + 1)} ham=${c.ham.toFixed(1)} spam=${c.spam.toFixed(1)} virus=${c.virus.toFixed(1)} reject=${c.reject.toFixed(1)} authfail=${c.authfail.toFixed(1)}`));
  }
  return hits;
}

/** What the verdict teaches, per key. Pure. */
export function lessonsOf(config: Config, verdict: Verdict, auth: AuthenticationOutcome | null): ReputationKind[] {
  const own = verdict.hits.filter((h) => !h.name.startsWith('REPUTATION_')).reduce((s, h) => s + h.score, 0);
  const kinds: ReputationKind[] = [];
  if (verdict.hits.some((h) => h.name === 'AV_VIRUS')) kinds.push('virus');
  else if (verdict.action === 'reject' || verdict.action === 'quarantine' || own >= config.reputation.spamScore) kinds.push('spam');
  else kinds.push('ham');
  if (auth && (auth.spf === 'fail' || auth.dmarc === 'fail')) kinds.push('authfail');
  return kinds;
}

/** Teach the store from one verdict (inbound only). Never throws into the mail path: the caller logs. */
export function learnFromVerdict(store: ReputationStore, config: Config, session: Session, mailFrom: string, verdict: Verdict, auth: AuthenticationOutcome | null, now = Date.now()): Promise<void> {
  if (!config.reputation.enabled || session.direction !== 'inbound' || verdict.action === 'defer') return Promise.resolve();
  const keys = [clientKey(config, session.clientIp), senderDomainKey(mailFrom)];
  const dkim = alignedDkimDomain(verdict.hits, auth);
  if (dkim) keys.push(ReputationStore.key('dkim', dkim));
  const kinds = lessonsOf(config, verdict, auth);
  const learnt = keys.filter((k): k is string => k !== null);
  forgetLooks(session); // the session's next message reads what this one taught
  for (const k of learnt) teachRecent(store, k, kinds, config.reputation.halfLifeMs, now);
  const at = seq;
  return store.record(learnt.flatMap((key) => kinds.map((kind) => ({ key, kind }))), config.reputation.halfLifeMs, now).then(() => afterCommit(learnt, at));
}

/**
 * A 5xx in the session (relay denied, unknown user, DNSBL…) counts one reject against the client
 * network — once per session (45 relay tricks in one session are one bad act), and never against
 * the envelope sender domain, which a prober can forge at will (joe-job).
 */
const taught = new WeakSet<Session>();
export function learnFromReject(store: ReputationStore, config: Config, session: Session, now = Date.now()): Promise<void> {
  if (!config.reputation.enabled || session.direction !== 'inbound' || taught.has(session)) return Promise.resolve();
  taught.add(session);
  forgetLooks(session);
  const key = clientKey(config, session.clientIp);
  teachRecent(store, key, ['reject'], config.reputation.halfLifeMs, now);
  const at = seq;
  return store.record([{ key, kind: 'reject' }], config.reputation.halfLifeMs, now).then(() => afterCommit([key], at));
}
