/*
 * content/spam/check.ts — the content check `spam`: the message's spam symbols (engine.ts).
 *
 * Inbound mail is scored with its recipient domains' Bayes scopes, outbound mail with its
 * sender's domain. Reads at most spam.maxBytes of the spooled message. Optional auto-learn of
 * confident verdicts (spam.bayes.autoLearn), written after the scan without holding the SMTP
 * reply. A failure or a missed deadline becomes SPAM_TEMPFAIL and 451 4.3.0 (scanContent):
 * mail is never passed unscored. Does not pick the action (verdict/ does, per class of service).
 */
import type { Hit } from '../../core/index.js';
import type { ContentCheck } from '../index.js';
import type { SpamRuntime } from './engine.js';

// The engine (parser, tokenizer, mailparser) is imported at the first message scored, not at
// process start: a process that never scores (spam.enabled false) never loads it.
let engine: Promise<[typeof import('./engine.js'), typeof import('./parse.js')]> | null = null;
function loadEngine(): Promise<[typeof import('./engine.js'), typeof import('./parse.js')]> {
  if (!engine) {
    engine = Promise.all([import('./engine.js'), import('./parse.js')]);
    // A failed import is not cached: the next message tries again.
    engine.catch(() => { engine = null; });
  }
  return engine;
}

export const spam: ContentCheck = {
  name: 'spam',
  // Reads config.spam.timeoutMs through the wrapper below; this is the ceiling.
  timeoutMs: 60_000,
  async run(ctx): Promise<Hit[]> {
    const rt = ctx.spam;
    if (!ctx.config.spam.enabled || !rt) return [];
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        runSpam(rt, ctx),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ctx.config.spam.timeoutMs} ms`)), ctx.config.spam.timeoutMs); }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
    }
  },
};

async function runSpam(rt: SpamRuntime, ctx: Parameters<ContentCheck['run']>[0]): Promise<Hit[]> {
  const [{ domainOf, learnItem, scoreMessage }, { readBounded }] = await loadEngine();
  const { raw, size } = await readBounded(ctx.message.openBody(), ctx.config.spam.maxBytes + 1);
  const domains = ctx.session.direction === 'inbound' ? [...new Set(ctx.envelope.recipients.map(domainOf))] : [domainOf(ctx.envelope.mailFrom)];
  const result = await scoreMessage(rt, raw, size, domains);
  const auto = ctx.config.spam.bayes.autoLearn;
  if (auto.enabled && rt.store && result.probability !== null) {
    const total = result.hits.reduce((s, h) => s + h.score, 0);
    const cls = total >= auto.spamAtOrAbove ? 'spam' : total <= auto.hamAtOrBelow ? 'ham' : null;
    // Never awaited: the reply does not wait for training; a failure costs one lesson, not mail.
    if (cls) rt.store.learn([learnItem(result, cls, domains, 'auto-learn')]).catch(() => {});
  }
  return result.hits;
}
