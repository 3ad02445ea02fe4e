/*
 * policy/session-state.ts — what the policy stage remembers about one SMTP session.
 *
 * Keyed by the Session object (a WeakMap: nothing to clean up when the session ends). Holds
 * the hits earned at connect/helo (the session) and at mail/rcpt (the current transaction), so
 * listen/ can add them to the content hits of the message (policyHits), and memoised lookups
 * that several checks share (the client's PTR, the DNSBL sum, the access-list verdict of a
 * recipient) so each is done once per session or transaction, whichever check asks first.
 */
import type { Decision, Hit, Session, SmtpPhase } from '../core/index.js';
import { memoSlot, type Maybe } from './maybe.js';

interface State {
  connect: Hit[];
  helo: Hit[];
  tx: Hit[];
  /** Session-wide memo (PTR, DNSBL). */
  memo: Map<string, { get(): Maybe<unknown> }>;
  /** Per-transaction memo (access verdicts per recipient); reset at MAIL. */
  txMemo: Map<string, { get(): Maybe<unknown> }>;
  /** Reputation looks of this session (reputation-view.ts), until the session teaches something. */
  looks: Map<string, unknown> | null;
}

const states = new WeakMap<Session, State>();

function stateOf(session: Session): State {
  let s = states.get(session);
  if (!s) {
    s = { connect: [], helo: [], tx: [], memo: new Map(), txMemo: new Map(), looks: null };
    states.set(session, s);
  }
  return s;
}

/** The session's memo of reputation looks (one WeakMap entry per session for all policy state). */
export function sessionLooks<T>(session: Session): Map<string, T> {
  const s = stateOf(session);
  return (s.looks ??= new Map()) as Map<string, T>;
}

export function forgetLooks(session: Session): void {
  const s = states.get(session);
  if (s) s.looks = null;
}

/** Run `fn` once per session for `key`; later callers get its value (synchronously once known). */
export function sessionMemo<T>(session: Session, key: string, fn: () => Maybe<T>): Maybe<T> {
  return memoIn(stateOf(session).memo, key, fn);
}

/** Run `fn` once per transaction (MAIL FROM … end of DATA) for `key`. */
export function transactionMemo<T>(session: Session, key: string, fn: () => Maybe<T>): Maybe<T> {
  return memoIn(stateOf(session).txMemo, key, fn);
}

function memoIn<T>(memo: Map<string, { get(): Maybe<unknown> }>, key: string, fn: () => Maybe<T>): Maybe<T> {
  let slot = memo.get(key);
  if (!slot) {
    slot = memoSlot(fn());
    memo.set(key, slot);
  }
  return slot.get() as Maybe<T>;
}

/**
 * Remember a phase's hits. MAIL starts a new transaction (its hits and memo are dropped); a
 * refused recipient's hits are not kept (the message will not go to it). HELO hits are replaced
 * (the client may greet again).
 */
export function recordPhase(session: Session, phase: SmtpPhase, decision: Decision): void {
  const s = stateOf(session);
  const hits = decision.hits ?? [];
  switch (phase) {
    case 'connect':
      s.connect.push(...hits);
      break;
    case 'helo':
      s.helo = [...hits];
      break;
    case 'mail':
      s.tx = decision.action === 'accept' ? [...hits] : [];
      s.txMemo.clear();
      break;
    case 'rcpt':
      if (decision.action === 'accept') s.tx.push(...hits);
      break;
    default:
      break;
  }
}

/**
 * The policy hits of the current transaction (session ones included), once each, for the
 * verdict: listen/ adds them to the content hits, so DNSBL_SUM, RDNS_*, HELO_* and ACCESS_*
 * count in the message's score and appear in its verdict record.
 */
export function policyHits(session: Session): Hit[] {
  const s = states.get(session);
  if (!s) return [];
  const out: Hit[] = [];
  for (const list of [s.connect, s.helo, s.tx]) {
    for (const h of list) {
      if (!out.some((o) => o === h || (o.name === h.name && (o.detail ?? '') === (h.detail ?? '')))) out.push(h);
    }
  }
  return out;
}

/** True when an access-list allow entry matched in this session/transaction (for greylisting, content). */
export function isAllowListed(session: Session): boolean {
  const s = states.get(session);
  if (!s) return false;
  const allow = (h: Hit) => h.name === 'ACCESS_ALLOW';
  return s.connect.some(allow) || s.helo.some(allow) || s.tx.some(allow);
}
