/*
 * core/replies-doc.ts — render docs/replies.md from the reply table, so the postmaster's list of
 * replies can never drift from the code (test/unit/core/replies.test.ts compares them).
 * Run: node dist/gateway/src/core/replies-doc.js > docs/replies.md
 */
import { REPLIES } from './replies.js';

export function renderRepliesDoc(): string {
  const rows = Object.entries(REPLIES).map(([key, r]) => `| \`${key}\` | ${r.code} | ${r.enhanced} | ${r.text} |`);
  return [
    '# SMTP replies chosen by the gateway',
    '',
    'Generated from `gateway/src/core/replies.ts`; do not edit by hand. Replies not listed here',
    '(syntax errors, `250 OK` to MAIL/RCPT, `354`) come from smtp-server itself. A `4xx` means',
    'the gateway could not decide safely and the sender keeps the message and retries; a `5xx`',
    'means the gateway is sure. Logs carry the same text in their `response` field.',
    '',
    '| key | code | enhanced | text |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderRepliesDoc());
