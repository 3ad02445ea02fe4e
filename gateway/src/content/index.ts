/*
 * content/ — after DATA: parse once, then run the registered content checks concurrently.
 * Message → Hit[] (+ header edits and the authentication outcome). The check list is data
 * (CONTENT_CHECKS); antivirus and spam checks register here too (issue 4). A check that fails
 * or misses its deadline answers with a <NAME>_TEMPFAIL hit and a tempfail reply, which the
 * verdict turns into a 4xx: unscanned mail is never passed. Checks never pick the final action.
 * Runs in receiver workers.
 */
import type { Config } from '../config/index.js';
import type { AuthenticationOutcome, Envelope, HeaderEdit, Hit, Message, ReplyKey, Session } from '../core/index.js';
import type { ResolveFn } from '../dns/index.js';
import { ANTIVIRUS_SYMBOLS, antivirus } from './checks/antivirus.js';
import { AUTHENTICATION_SYMBOLS, authentication } from './checks/authentication.js';
import { loadScores, type ScoreTable } from './scores.js';
import { spam } from './spam/check.js';
import type { SpamRuntime } from './spam/engine.js';
import { SPAM_SYMBOLS } from './spam/symbols.js';

export { HeaderCapture, parseHeaders, headerValue, type HeaderField } from './headers.js';
export { ScoreTable, loadScores, parseScores, defaultScoresDir } from './scores.js';

/** The score tables of the content checks, loaded once per process (loadContentScores). */
export interface ContentScores {
  readonly authentication: ScoreTable;
  readonly antivirus: ScoreTable;
  readonly spam: ScoreTable;
}

export interface ContentContext {
  readonly config: Config;
  readonly session: Session;
  readonly envelope: Envelope;
  readonly message: Message;
  /** The process's one dns/ resolver (its cache is shared by every message). */
  readonly resolve: ResolveFn;
  readonly scores: ContentScores;
  /** The spam check's per-process runtime (Bayes store, feature threads); absent: no spam scoring. */
  readonly spam?: SpamRuntime | null;
}

/** What a check may say beyond its hits. */
export interface CheckOutcome {
  readonly hits: Hit[];
  /** Applied on the way out (queue/body.ts); prepends keep their order. */
  readonly headerEdits?: readonly HeaderEdit[];
  /** The check could not decide (e.g. DNS temperror): the verdict answers this 4xx. */
  readonly tempfail?: ReplyKey;
  readonly authentication?: AuthenticationOutcome;
}

export interface ContentCheck {
  readonly name: string;
  readonly timeoutMs: number;
  /** The 4xx when the check throws or misses its deadline (default LOCAL_ERROR). */
  readonly tempfailReply?: ReplyKey;
  run(ctx: ContentContext): Promise<Hit[] | CheckOutcome>;
}

export const CONTENT_CHECKS: readonly ContentCheck[] = [authentication, antivirus, spam];

export function loadContentScores(dir?: string): ContentScores {
  return {
    authentication: loadScores('authentication', AUTHENTICATION_SYMBOLS, dir),
    antivirus: loadScores('antivirus', ANTIVIRUS_SYMBOLS, dir),
    spam: loadScores('spam', SPAM_SYMBOLS, dir),
  };
}

export interface ContentResult {
  readonly hits: Hit[];
  /** True when some check could not decide (its hit is <NAME>_TEMPFAIL or its own). */
  readonly tempfail: boolean;
  /** The 4xx of the first check (in list order) that could not decide; null when all did. */
  readonly tempfailReply: ReplyKey | null;
  readonly headerEdits: HeaderEdit[];
  readonly authentication: AuthenticationOutcome | null;
}

export async function scanContent(ctx: ContentContext, checks: readonly ContentCheck[] = CONTENT_CHECKS): Promise<ContentResult> {
  const outcomes = await Promise.all(checks.map(async (c): Promise<CheckOutcome> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        c.run(ctx),
        new Promise<Hit[]>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${c.timeoutMs} ms`)), c.timeoutMs); }),
      ]);
      return Array.isArray(r) ? { hits: r } : r;
    } catch (err) {
      return { hits: [{ name: `${c.name.toUpperCase()}_TEMPFAIL`, score: 0, detail: (err as Error).message }], tempfail: c.tempfailReply ?? 'LOCAL_ERROR' };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }));
  const tempfailReply = outcomes.find((o) => o.tempfail)?.tempfail ?? null;
  return {
    hits: outcomes.flatMap((o) => o.hits),
    tempfail: tempfailReply !== null,
    tempfailReply,
    headerEdits: outcomes.flatMap((o) => o.headerEdits ?? []),
    authentication: outcomes.find((o) => o.authentication)?.authentication ?? null,
  };
}
