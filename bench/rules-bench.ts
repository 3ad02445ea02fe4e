/*
 * bench/rules-bench.ts — what the rules engine adds per message with the shipped rule set
 * (issue 6 target: ≤ 0.5 ms). Not a test; prints p50/p99.
 *
 * For a mix of messages (plain text, multipart/alternative, with attachments, with a zip) it
 * times, per message, what listen/server.ts runs: loadRuleContent (reads and parses the body
 * only when an applicable rule needs it: here the attachment rules, for messages that can have
 * parts) and evaluateRules over all the rules. Single process, after a warm-up.
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist/bench/rules-bench.js [N]
 */
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import { parseHeaders, headerValue } from '../gateway/src/content/index.js';
import { evaluateRules, loadRuleContent, loadRuleSet, type RuleFacts } from '../gateway/src/rules/index.js';
import { makeZip } from '../test/e2e/fixtures/mime.js';

async function build(opts: Record<string, unknown>): Promise<Buffer> {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return (await t.sendMail({ from: 'alice@partner.test', to: 'bob@example.test', subject: 'Quarterly report', ...opts })).message as Buffer;
}

const text = 'Hello Bob,\n\n' + 'This is a line of an ordinary business e-mail of moderate length.\n'.repeat(30);
const html = `<html><body>${text.split('\n').map((l) => `<p>${l}</p>`).join('')}</body></html>`;
const corpus = [
  { name: 'plain', raw: await build({ text }) },
  { name: 'alternative', raw: await build({ text, html }) },
  { name: 'pdf', raw: await build({ text, html, attachments: [{ filename: 'report.pdf', content: Buffer.alloc(40_000, 7), contentType: 'application/pdf' }] }) },
  { name: 'zip', raw: await build({ text, attachments: [{ filename: 'files.zip', content: makeZip({ 'a.txt': 'x', 'b/setup.exe': 'MZ' }) }] }) },
];
const set = loadRuleSet(['builtin']);
const n = Number(process.argv[2] ?? 4000);
const local = new Set(['example.test']);

/** Wall time and CPU time (user+system of this process) of one message, in ms. */
async function once(raw: Buffer, i: number): Promise<[number, number]> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const end = raw.indexOf('\r\n\r\n');
  const headers = parseHeaders(raw.subarray(0, end + 2).toString('latin1'));
  const content = await loadRuleContent(set, 'inbound', headerValue(headers, 'content-type'), () => Readable.from([raw]), 10 * 1024 * 1024);
  const facts: RuleFacts = {
    direction: 'inbound', listener: 'mx', clientIp: '203.0.113.9', authUser: null, mailFrom: 'alice@partner.test', recipients: ['bob@example.test'],
    headers, size: raw.length, hits: [{ name: 'AUTH_SPF_PASS', score: -0.5 }], auth: { spf: 'pass', dkim: i % 2 ? 'pass' : 'none', dmarc: 'pass', arc: 'none' },
    now: new Date(), localDomains: local, content: content === 'too-big' ? null : content,
  };
  evaluateRules(set, facts, { qid: 'BENCH', postmaster: 'postmaster@example.test' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  return [wall, (used.user + used.system) / 1000];
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

console.log(`rules: ${set.rules.length} enabled (default set), ${n} messages per kind, node ${process.version}`);
// Wall time includes being descheduled on a busy machine; CPU time is what the rules cost.
const all: number[] = [];
const allCpu: number[] = [];
const row = (name: string, size: string, w: number[], c: number[]) =>
  console.log(`${name.padEnd(12)} ${size.padStart(6)}  wall p50 ${pct(w, 50).toFixed(3)} p99 ${pct(w, 99).toFixed(3)} ms   cpu p50 ${pct(c, 50).toFixed(3)} p99 ${pct(c, 99).toFixed(3)} ms`);
for (const { name, raw } of corpus) {
  for (let i = 0; i < 300; i++) await once(raw, i);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const [w, c] = await once(raw, i);
    wall.push(w);
    cpu.push(c);
  }
  all.push(...wall);
  allCpu.push(...cpu);
  row(name, String(raw.length), wall, cpu);
}
row('all', '', all, allCpu);
const meanCpu = allCpu.reduce((a, b) => a + b, 0) / allCpu.length;
console.log(`mean cpu per message (content loading + evaluation): ${meanCpu.toFixed(3)} ms`);

// The evaluation alone (content already loaded): synchronous, no event-loop turns, so its wall
// time is not inflated by the scheduler.
for (const { name, raw } of corpus) {
  const end = raw.indexOf('\r\n\r\n');
  const headers = parseHeaders(raw.subarray(0, end + 2).toString('latin1'));
  const content = await loadRuleContent(set, 'inbound', headerValue(headers, 'content-type'), () => Readable.from([raw]), 10 * 1024 * 1024);
  const facts: RuleFacts = {
    direction: 'inbound', listener: 'mx', clientIp: '203.0.113.9', authUser: null, mailFrom: 'alice@partner.test', recipients: ['bob@example.test'],
    headers, size: raw.length, hits: [], auth: { spf: 'pass', dkim: 'none', dmarc: 'pass', arc: 'none' }, now: new Date(), localDomains: local,
    content: content === 'too-big' ? null : content,
  };
  const times: number[] = [];
  for (let i = 0; i < n + 300; i++) {
    const t0 = process.hrtime.bigint();
    evaluateRules(set, facts, { qid: 'BENCH', postmaster: 'postmaster@example.test' });
    if (i >= 300) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(`evaluate only ${name.padEnd(12)} p50 ${pct(times, 50).toFixed(4)} ms  p99 ${pct(times, 99).toFixed(4)} ms`);
}
