import t from 'tap';
import { readFileSync } from 'node:fs';
import { REPLIES, GatewayError, isGatewayError, replyText } from '../../../gateway/src/core/index.js';
import { renderRepliesDoc } from '../../../gateway/src/core/replies-doc.js';

t.test('every reply has a basic code that matches its enhanced class', async (t) => {
  for (const [key, r] of Object.entries(REPLIES)) {
    t.equal(String(r.code)[0], r.enhanced[0], `${key}: ${r.code} vs ${r.enhanced}`);
    t.match(r.enhanced, /^[245]\.\d{1,3}\.\d{1,3}$/, key);
  }
});

t.test('GatewayError carries its key and renders with its own enhanced code', async (t) => {
  const e = new GatewayError('RELAY_DENIED', '<a@b>');
  t.ok(isGatewayError(e));
  t.equal(e.code, 'RELAY_DENIED');
  t.equal(replyText('RELAY_DENIED', '<a@b>'), '5.7.1 Relay access denied: <a@b>');
  t.notOk(isGatewayError(new Error('x')));
});

t.test('docs/replies.md is generated from the table (no drift)', async (t) => {
  const doc = readFileSync(new URL('../../../docs/replies.md', import.meta.url), 'utf8');
  t.equal(doc, renderRepliesDoc(), 'run: node dist/gateway/src/core/replies-doc.js > docs/replies.md');
});
