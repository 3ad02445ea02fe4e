/*
 * verdict/ — add up symbol scores and choose the action: Hit[] (+ the content stage's header
 * edits and authentication outcome) → Verdict.
 * A message the content stage could not judge is deferred (4xx), never passed. Spam thresholds
 * come from the message's class of service (class-of-service.ts): reject → 550 5.7.1 SPAM_REJECT
 * in the session; quarantine and tag → X-Spam-Status / X-Spam-Score / X-Spam-Symbols (and the
 * optional subject tag); the quarantine store (branch wip/av) keeps what is quarantined.
 * DMARC (RFC 7489 §6.6.4, policy already reduced by pct and the local overrides): reject →
 * 550 5.7.1 in the session, or a tag when authentication.dmarcReject says so; quarantine → a
 * tag (X-TuxHat-DMARC: quarantine), or the quarantine store when dmarcQuarantine says so (both
 * settable per class of service).
 * AV_VIRUS (content/checks/antivirus.ts) → 554 5.7.1 AV_VIRUS in the session, or `quarantine`
 * (stored by quarantine/ instead of queued) when antivirus.onVirus says so for the direction.
 */
import type { AuthenticationOutcome, Direction, HeaderEdit, Hit, ReplyKey, Verdict } from '../core/index.js';
import type { RulesOutcome } from '../rules/evaluate.js';
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
  /** config.authentication.dmarcReject (or the class of service's). */
  readonly dmarcReject?: 'reject' | 'tag';
  /** config.authentication.dmarcQuarantine (or the class of service's); default tag. */
  readonly dmarcQuarantine?: 'tag' | 'quarantine';
  /** antivirus.onVirus for the message's direction (content/checks/antivirus.ts avPolicy). */
  readonly onVirus?: 'reject' | 'quarantine';
  /** What the rules engine decided (rules/evaluate.ts); applied after the checks' own outcome. */
  readonly rules?: RulesOutcome | null;
  /** Archive-all recipients (rules/archive.ts), added to every accepted message. */
  readonly archive?: readonly string[];
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
  const rules = input.rules ?? null;
  const verdict = decideChecks(rules && rules.hits.length > 0 ? { ...input, hits: [...input.hits, ...rules.hits] } : input);
  if (!rules) return withArchive(verdict, input.archive);
  return withArchive(applyRules(verdict, rules), input.archive);
}

/** The archive copy goes with every message we accept (not with a reject, defer or discard). */
function withArchive(v: Verdict, archive: readonly string[] | undefined): Verdict {
  if (!archive || archive.length === 0 || v.action === 'reject' || v.action === 'defer' || v.action === 'discard') return v;
  return { ...v, extraRecipients: [...v.extraRecipients, ...archive.filter((a) => !v.extraRecipients.includes(a))] };
}

/**
 * The rules' actions on top of the checks' verdict. A defer or a DMARC reject stands (a rule
 * cannot pass what could not be judged, nor override DMARC: that has its own overrides);
 * otherwise a rule's reject > quarantine > discard > accept, and its edits, copies and body
 * transforms are carried along.
 */
function applyRules(v: Verdict, r: RulesOutcome): Verdict {
  const record = { rules: r.matched };
  if (v.action === 'defer' || v.action === 'reject') return { ...v, ...record };
  if (r.final === 'reject' && r.reject) {
    return { ...v, ...record, action: r.reject.reply === 'RULE_DEFER' ? 'defer' : 'reject', reply: r.reject.reply, ...(r.reject.text ? { detail: r.reject.text } : {}), headerEdits: [] };
  }
  if (r.final === 'discard') return { ...v, ...record, action: 'discard', headerEdits: [] };
  const action = r.final === 'quarantine' ? 'quarantine' : r.final === 'accept' ? 'deliver' : v.action;
  return {
    ...v, ...record, action,
    ...(r.final === 'quarantine' && r.quarantineReason ? { detail: r.quarantineReason } : {}),
    headerEdits: [...v.headerEdits, ...r.headerEdits],
    extraRecipients: [...v.extraRecipients, ...r.bcc],
    ...(r.bodyTransforms.length > 0 ? { bodyTransforms: r.bodyTransforms } : {}),
    ...(r.quarantineOriginal ? { quarantineOriginal: r.quarantineOriginal } : {}),
    ...(r.classOfService ? { classOfService: r.classOfService } : {}),
    ...(r.redirect ? { redirectTo: r.redirect } : {}),
    ...(r.notifications.length > 0 ? { notifications: r.notifications } : {}),
  };
}

function decideChecks(input: VerdictInput): Verdict {
  const score = Math.round(input.hits.reduce((sum, h) => sum + h.score, 0) * 100) / 100;
  const base = { score, hits: input.hits, extraRecipients: [] as string[] };
  // A virus is certain, whatever else could not be decided: 554 5.7.1 in the session, or quarantine.
  const virus = input.hits.find((h) => h.name === 'AV_VIRUS');
  if (virus) {
    const detail = virus.detail ?? 'unknown';
    if (input.onVirus === 'quarantine') return { ...base, action: 'quarantine', detail: `virus ${detail}`, headerEdits: [...(input.headerEdits ?? [])] };
    return { ...base, action: 'reject', reply: 'AV_VIRUS', detail, headerEdits: [] };
  }
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
  // DMARC p=quarantine: a tag, or the quarantine when dmarcQuarantine says so.
  const dmarcAction: 'deliver' | 'tag' | 'quarantine' = policy === null ? 'deliver'
    : policy === 'quarantine' && input.dmarcQuarantine === 'quarantine' ? 'quarantine' : 'tag';
  let spamVerdict: 'deliver' | 'tag' | 'quarantine' = 'deliver';
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
      spamVerdict = spam;
    }
  }
  // The more severe of the two; the quarantine says why.
  if (spamVerdict === 'quarantine') return { ...base, action: 'quarantine', detail: `spam score ${score}`, headerEdits: edits };
  if (dmarcAction === 'quarantine') return { ...base, action: 'quarantine', detail: `DMARC p=quarantine ${input.authentication?.fromDomain ?? ''}`.trim(), headerEdits: edits };
  return { ...base, action: spamVerdict === 'tag' || dmarcAction === 'tag' ? 'tag' : 'deliver', headerEdits: edits };
}
