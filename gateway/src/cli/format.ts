/*
 * cli/format.ts — human-readable text for admin API answers (status, queue, trace).
 *
 * Input: the JSON the admin API returns. Output: lines for a terminal, shaped after Postfix's
 * postqueue -p so postmasters find what they expect. Times are local, like syslog. Does not:
 * colour, page, or truncate (long SMTP responses are what the postmaster came to read).
 * Runs in the `tuxhat` process.
 */
import type { QueueEntry } from '../core/index.js';
import type { QueueSummary, StatusInfo } from '../admin/index.js';
import type { TraceEvent } from '../state/index.js';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** "2024-01-10 12:34:56" in local time. */
export function formatTime(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const sender = (from: string): string => (from === '' ? '<>' : from);

const COL = { qid: 18, state: 8, size: 9, time: 19 } as const;
const INDENT = ' '.repeat(COL.qid + COL.state + COL.size + COL.time + 4);

/** postqueue -p with a state column: one block per message, pending recipients under their response. */
export function formatQueueList(entries: readonly QueueSummary[]): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  const lines = [
    `${'Queue ID'.padEnd(COL.qid)} ${'State'.padEnd(COL.state)} ${'Size'.padStart(COL.size)} ${'Arrival Time'.padEnd(COL.time)} Sender/Recipient`,
  ];
  let bytes = 0;
  for (const e of entries) {
    bytes += e.size;
    lines.push(`${e.qid.padEnd(COL.qid)} ${e.state.padEnd(COL.state)} ${String(e.size).padStart(COL.size)} ${formatTime(e.receivedAt).padEnd(COL.time)} ${sender(e.mailFrom)}`);
    let shown: string | null = null;
    for (const r of e.pending) {
      // Like postqueue: a response is printed once above the recipients that share it.
      if (r.lastResponse !== null && r.lastResponse !== shown) lines.push(`${INDENT}(${r.lastResponse})`);
      shown = r.lastResponse;
      lines.push(`${INDENT}${r.address}`);
    }
    const done = e.recipientCount - e.pending.length;
    if (done > 0) lines.push(`${INDENT}(+${done} recipient${done === 1 ? '' : 's'} done)`);
    lines.push('');
  }
  lines.push(`-- ${formatBytes(bytes)} in ${entries.length} message${entries.length === 1 ? '' : 's'}.`);
  return `${lines.join('\n')}\n`;
}

export function formatQueueEntry(e: QueueEntry): string {
  const row = (label: string, value: string): string => `${`${label}:`.padEnd(14)}${value}`;
  const lines = [
    row('Queue ID', e.qid),
    row('State', e.state),
    row('Direction', `${e.direction} via ${e.listener}`),
    row('Client', `${e.client} (helo ${e.helo || '-'})`),
    row('Auth user', e.authUser ?? '-'),
    row('Sender', sender(e.mailFrom)),
    row('Size', `${e.size} bytes (${e.bodyType}${e.smtpUtf8 ? ', SMTPUTF8' : ''})`),
    row('Message-ID', e.messageId ?? '-'),
    row('Received', formatTime(e.receivedAt)),
    row('Attempts', String(e.attempts)),
  ];
  if (e.state !== 'hold' && e.state !== 'corrupt') lines.push(row('Next attempt', formatTime(e.nextAttemptAt)));
  if (e.isBounce) lines.push(row('Bounce', 'yes (a DSN we generated)'));
  lines.push('Recipients:');
  for (const r of e.recipients) {
    lines.push(`  ${r.address}  ${r.state}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`);
    if (r.lastDsn !== undefined || r.lastResponse !== undefined) {
      const via = r.lastRelay ? ` [${r.lastRelay}]` : '';
      lines.push(`    ${[r.lastDsn, r.lastResponse].filter((x) => x).join(' ')}${via}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/** One line per event, like the mail log: time, event, then key=value fields. */
export function formatTrace(qid: string, events: readonly TraceEvent[]): string {
  const lines = [`Trace of ${qid}:`];
  for (const ev of events) {
    const ms = String(new Date(ev.at).getMilliseconds()).padStart(3, '0');
    const fields = Object.entries(ev)
      .filter(([k]) => k !== 'at' && k !== 'event' && k !== 'qid')
      .map(([k, v]) => `${k}=${fieldValue(v)}`);
    lines.push(`${formatTime(ev.at)}.${ms} ${ev.event}${fields.length ? ` ${fields.join(' ')}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatStatus(s: StatusInfo): string {
  const lines = [
    `TuxHat gateway ${s.version}, pid ${s.pid}, up ${formatDuration(s.uptimeMs)} (since ${formatTime(s.startedAt)})`,
    `Workers:   ${s.workers.length}${s.workers.length ? ` (${s.workers.map((w) => `${w.pid}${w.listening ? '' : ' starting'}`).join(', ')})` : ''}`,
    'Listeners:',
    ...s.listeners.map((l) => `  ${l.name.padEnd(12)} ${l.kind.padEnd(10)} ${`${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`.padEnd(22)} ${l.tls}`),
    `Queue:     ${Object.entries(s.queue).map(([state, n]) => `${state} ${n}`).join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}
