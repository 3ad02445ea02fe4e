/*
 * content/ — after DATA: parse once, then run the registered content checks concurrently.
 * Message → Hit[]. The check list is data (CONTENT_CHECKS); antivirus, authentication and spam
 * checks register here (issues 3 and 4). A check that fails answers with a _TEMPFAIL hit and
 * `tempfail: true`, which the verdict turns into a 4xx: unscanned mail is never passed.
 */
import type { Config } from '../config/index.js';
import type { Envelope, Hit, Message, Session } from '../core/index.js';

export { HeaderCapture, parseHeaders, headerValue, type HeaderField } from './headers.js';

export interface ContentContext {
  readonly config: Config;
  readonly session: Session;
  readonly envelope: Envelope;
  readonly message: Message;
}

export interface ContentCheck {
  readonly name: string;
  readonly timeoutMs: number;
  run(ctx: ContentContext): Promise<Hit[]>;
}

export const CONTENT_CHECKS: readonly ContentCheck[] = [];

export interface ContentResult {
  readonly hits: Hit[];
  /** True when some check could not decide (its hit is <NAME>_TEMPFAIL). */
  readonly tempfail: boolean;
}

export async function scanContent(ctx: ContentContext, checks: readonly ContentCheck[] = CONTENT_CHECKS): Promise<ContentResult> {
  let tempfail = false;
  const results = await Promise.all(checks.map(async (c) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        c.run(ctx),
        new Promise<Hit[]>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${c.timeoutMs} ms`)), c.timeoutMs); }),
      ]);
    } catch (err) {
      tempfail = true;
      return [{ name: `${c.name.toUpperCase()}_TEMPFAIL`, score: 0, detail: (err as Error).message }];
    } finally {
      if (timer) clearTimeout(timer);
    }
  }));
  return { hits: results.flat(), tempfail };
}
