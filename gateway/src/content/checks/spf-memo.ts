/*
 * content/checks/spf-memo.ts — one SPF evaluation per transaction, shared by the early SPF check
 * at MAIL FROM (policy/checks/spf-early.ts) and the authentication content check after DATA.
 *
 * Keyed by the Session object (the same one the listener hands to both stages; a WeakMap, so a
 * closed session takes its entry with it) and checked against (client ip, HELO, sender): a new
 * MAIL FROM, RSET or HELO gives another key, and the old result is not reused. Only the last
 * transaction's result is kept per session. A temperror is not kept: the content stage asks again
 * (the client retried MAIL FROM after our 451 anyway).
 */
import type { SPFResult } from 'mailauth';
import type { Session } from '../../core/index.js';
import { checkSpf, type Resolve } from './authenticate.js';

interface Entry {
  key: string;
  result: Promise<SPFResult>;
}

const memo = new WeakMap<Session, Entry>();

const keyOf = (ip: string, helo: string | null | undefined, sender: string) => `${ip}\n${helo ?? ''}\n${sender.toLowerCase()}`;

export interface SpfQuery {
  session: Session;
  sender: string;
  mta: string;
  resolver: Resolve;
}

/** The SPF result for this session's current transaction, evaluated at most once. */
export function spfFor(q: SpfQuery): Promise<SPFResult> {
  const key = keyOf(q.session.clientIp, q.session.helo, q.sender);
  const found = memo.get(q.session);
  if (found && found.key === key) return found.result;
  const result = checkSpf({ ip: q.session.clientIp, helo: q.session.helo, sender: q.sender, mta: q.mta, resolver: q.resolver });
  const entry = { key, result };
  memo.set(q.session, entry);
  result.then((r) => {
    if (r.status.result === 'temperror' && memo.get(q.session) === entry) memo.delete(q.session);
  }, () => {
    if (memo.get(q.session) === entry) memo.delete(q.session);
  });
  return result;
}

/** A result already computed for this transaction (the early check ran), or undefined. */
export function memoizedSpf(session: Session, sender: string): Promise<SPFResult> | undefined {
  const found = memo.get(session);
  return found && found.key === keyOf(session.clientIp, session.helo, sender) ? found.result : undefined;
}
