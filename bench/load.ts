/*
 * bench/load.ts — load generators: a timed SMTP client (latency per message), smtp-source
 * (Postfix's C generator, for raw throughput), and idle sessions (memory per open session).
 */
import { spawn } from 'node:child_process';
import { SmtpClient } from '../test/e2e/harness/smtp.js';
import { which } from '../test/e2e/harness/util.js';

export interface LoadOptions {
  port: number;
  messages: number;
  sessions: number;
  /** Body bytes per message (like smtp-source -l). */
  size: number;
  from: string;
  to: string;
  /** Keep each connection for many messages (RSET between) instead of one per connection. */
  reuse?: boolean;
  /** Give up after this long (the run is then reported as failed). */
  timeoutMs: number;
}

export interface LoadResult {
  sent: number;
  errors: number;
  /** First error replies/messages, for the report. */
  errorSamples: string[];
  /** Per accepted message: connect (or MAIL, with reuse) → 250 after the final '.', ms. */
  latenciesMs: number[];
  startedAt: number;
  finishedAt: number;
}

/** A message of about `size` body bytes, in 76-character lines. */
export function benchMessage(i: number, size: number, from: string, to: string): string {
  const line = `${'x'.repeat(74)}\r\n`;
  const body = line.repeat(Math.max(1, Math.floor(size / line.length)));
  return (
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: bench ${i}\r\nDate: ${new Date().toUTCString()}\r\n` +
    `Message-ID: <bench.${process.pid}.${i}.${Date.now()}@bench.test>\r\n\r\n${body}`
  );
}

/**
 * `sessions` concurrent clients send `messages` messages in total, each timing its transactions.
 * One connection per message by default (as most MX traffic arrives), EHLO each time.
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  let next = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const latenciesMs: number[] = [];
  const noteError = (e: string): void => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(e);
  };
  const giveUpAt = Date.now() + o.timeoutMs;
  const startedAt = performance.now();

  const oneMessage = async (c: SmtpClient, i: number, t0: number): Promise<void> => {
    const r = await c.send({ from: o.from, to: [o.to], message: benchMessage(i, o.size, o.from, o.to) });
    if (r.ok) latenciesMs.push(performance.now() - t0);
    else noteError(r.data?.raw.join(' ') ?? r.rcpt.find((x) => x.code >= 400)?.raw.join(' ') ?? r.mail.raw.join(' '));
  };

  const worker = async (): Promise<void> => {
    let c: SmtpClient | undefined;
    while (next < o.messages && Date.now() < giveUpAt && errors < 100) {
      const i = next++;
      const t0 = performance.now();
      try {
        if (!c || !o.reuse) {
          c = await SmtpClient.connect(o.port, { timeoutMs: 30_000 });
          if (c.greeting.code !== 220) throw new Error(`greeting ${c.greeting.raw.join(' ')}`);
          const e = await c.ehlo('client.bench.test');
          if (e.code !== 250) throw new Error(`EHLO ${e.raw.join(' ')}`);
        } else {
          await c.command('RSET');
        }
        await oneMessage(c, i, t0);
        if (!o.reuse) {
          await c.quit();
          c = undefined;
        }
      } catch (err) {
        noteError(String((err as Error).message ?? err));
        c?.close();
        c = undefined;
      }
    }
    if (c) await c.quit();
  };
  await Promise.all(Array.from({ length: o.sessions }, () => worker()));
  return { sent: latenciesMs.length, errors, errorSamples, latenciesMs, startedAt, finishedAt: performance.now() };
}

/** Runs smtp-source; resolves when it exits (it has then had every message accepted or failed). */
export function runSmtpSource(o: Omit<LoadOptions, 'reuse'>): Promise<{ code: number; output: string }> {
  const bin = which('smtp-source', 'postfix');
  const args = ['-s', String(o.sessions), '-l', String(o.size), '-m', String(o.messages), '-f', o.from, '-t', o.to, '-M', 'client.bench.test', `127.0.0.1:${o.port}`];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      output += `\n[smtp-source killed after ${o.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

/**
 * Opens `count` SMTP sessions (connect, read the greeting, EHLO) and keeps them open. Returns the
 * clients (close them with closeAll) and how many got a 250 to EHLO.
 */
export async function openIdleSessions(port: number, count: number, opts: { concurrency?: number; timeoutMs?: number } = {}): Promise<{ clients: SmtpClient[]; ready: number; failures: string[] }> {
  const clients: SmtpClient[] = [];
  const failures: string[] = [];
  let ready = 0;
  let next = 0;
  const giveUpAt = Date.now() + (opts.timeoutMs ?? 60_000);
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < giveUpAt) {
      next++;
      try {
        const c = await SmtpClient.connect(port, { timeoutMs: 20_000 });
        clients.push(c);
        if (c.greeting.code !== 220) throw new Error(`greeting ${c.greeting.raw.join(' ')}`);
        const e = await c.ehlo('idle.bench.test');
        if (e.code !== 250) throw new Error(`EHLO ${e.raw.join(' ')}`);
        ready++;
      } catch (err) {
        if (failures.length < 5) failures.push(String((err as Error).message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 50 }, () => worker()));
  return { clients, ready, failures };
}

export function closeAll(clients: SmtpClient[]): void {
  for (const c of clients) c.close();
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
