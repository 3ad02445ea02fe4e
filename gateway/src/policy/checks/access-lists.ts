/*
 * policy/checks/access-lists.ts — rcpt phase: the access lists (policy/access.ts) for this
 * recipient: deny → 550 5.7.1 with the entry's reply text; allow → ACCESS_ALLOW (later stages
 * and the other rcpt checks honour it); score entries → ACCESS_SCORE hits.
 */
import type { Decision } from '../../core/index.js';
import { accessVerdict } from '../access.js';
import { defineCheck } from '../check.js';
import { then, type Maybe } from '../maybe.js';

export const accessLists = defineCheck({
  name: 'access_lists',
  phase: 'rcpt',
  timeoutMs: 15_000,
  run(ctx): Maybe<Decision> {
    if (ctx.recipient?.toLowerCase() === 'postmaster') return { action: 'accept' };
    return then(accessVerdict(ctx), (v): Decision => v.action === 'deny'
      ? { action: 'reject', reply: 'ACCESS_DENIED', detail: v.reply ?? `<${ctx.recipient}>`, hits: v.hits }
      : { action: 'accept', hits: v.hits });
  },
});
