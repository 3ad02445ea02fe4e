/*
 * verdict/ — add up symbol scores and choose the action: Hit[] (+ the content stage's header
 * edits and authentication outcome) → Verdict.
 * A message the content stage could not judge is deferred (4xx), never passed. Spam thresholds
 * come from the message's class of service (class-of-service.ts): reject → 550 5.7.1 SPAM_REJECT
 * in the session; quarantine and tag → X-Spam-Status / X-Spam-Score / X-Spam-Symbols (and the
 * optional subject tag); the quarantine store (branch wip/av) keeps what is quarantined.
 * DMARC (RFC 7489 §6.6.4, policy already reduced by pct and the local overrides): reject →
 * 550 5.7.1 in the session, or a tag when authentication.dmarcReject says so; quarantine → a
 * tag (X-TuxHat-DMARC: quarantine) until the quarantine store exists (issue 4).
 */
import type { AuthenticationOutcome, Direction, HeaderEdit, Hit, ReplyKey, Verdict } from '../core/index.js';
import { spamAction, type ClassOfService } from './class-of-service.js';

export { classOf, selectClass, spamAction, type ClassOfService, type SpamThresholds, type SpamAction } from './class-of-service.js';

export interface VerdictInput {
  readonly direction: Direction;
  readonly hits: readonly Hit[];
  readonly tempfail: boolean;
  /** The 4xx to answer when tempfail (default LOCAL_ERROR). */
  readonly tempfailReply?: ReplyKey | null;
  /** Header edits the content checks asked for, kept in order. */
  readonly headerEdits?: readonly HeaderEdit[];
  readonly authentication?: AuthenticationOutcome | null;
  /** config.authentication.dmarcReject. */
  readonly dmarcReject?: 'reject' | 'tag';
  /**
   * Spam thresholds (issue 4): the message's class of service (verdict/class-of-service.ts) and
   * its Subject as received (for the subject tag). Absent when spam scoring is off.
   */
  readonly spam?: { readonly classOfService: ClassOfService; readonly subject: string | null } | null;
}

/** The headers a spam verdict writes; incoming ones are removed so a sender cannot pre-tag its mail. */
export const SPAM_HEADERS = ['X-Spam-Status', 'X-Spam-Score', 'X-Spam-Symbols'] as const;

/** The header a DMARC policy we did not enforce in the session leaves for the mailbox side. */
export const DMARC_TAG_HEADER = 'X-TuxHat-DMARC';

export function decide(input: VerdictInput): Verdict {
  const score = Math.round(input.hits.reduce((sum, h) => sum + h.score, 0) * 100) / 100;
  const base = { score, hits: input.hits, extraRecipients: [] as string[] };
  if (input.tempfail) {
    return { ...base, action: 'defer', reply: input.tempfailReply ?? 'LOCAL_ERROR', headerEdits: [] };
  }
  const edits = [...(input.headerEdits ?? [])];
  const policy = input.authentication?.dmarcPolicy ?? null;
  if (policy === 'reject' && (input.dmarcReject ?? 'reject') === 'reject') {
    const domain = input.authentication?.fromDomain;
    return { ...base, action: 'reject', reply: 'DMARC_REJECT', ...(domain ? { detail: domain } : {}), headerEdits: [] };
  }
  // A sender must not be able to pre-tag its own mail: ours is the only X-TuxHat-DMARC.
  if (input.authentication) edits.push({ op: 'remove', name: DMARC_TAG_HEADER });
  if (policy !== null) edits.push({ op: 'prepend', name: DMARC_TAG_HEADER, value: policy });
  let action: 'deliver' | 'tag' | 'quarantine' = policy !== null ? 'tag' : 'deliver';
  if (input.spam) {
    const { classOfService: cos, subject } = input.spam;
    const t = cos.thresholds;
    const spam = spamAction(score, t);
    if (spam === 'reject') return { ...base, action: 'reject', reply: 'SPAM_REJECT', headerEdits: [] };
    for (const name of SPAM_HEADERS) edits.push({ op: 'remove', name });
    if (spam === 'tag' || spam === 'quarantine') {
      const required = t.tag ?? t.quarantine ?? 0;
      const symbols = input.hits.filter((h) => h.score !== 0).map((h) => `${h.name}(${h.score})`);
      edits.push(
        { op: 'prepend', name: 'X-Spam-Status', value: `Yes, score=${score.toFixed(1)} required=${required.toFixed(1)} class=${cos.name} action=${spam}` },
        { op: 'prepend', name: 'X-Spam-Score', value: score.toFixed(2) },
        { op: 'prepend', name: 'X-Spam-Symbols', value: symbols.join(',\r\n ') || 'none' },
      );
      if (t.subjectTag !== '') {
        edits.push({ op: 'remove', name: 'Subject' }, { op: 'prepend', name: 'Subject', value: `${t.subjectTag}${subject ?? ''}` });
      }
      action = spam;
    }
  }
  return { ...base, action, headerEdits: edits };
}
