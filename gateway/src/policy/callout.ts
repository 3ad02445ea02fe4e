/*
 * policy/callout.ts — ask an internal SMTP server whether it would accept a recipient, without
 * sending mail: greeting, EHLO, MAIL FROM:<> (so the probe itself can never cause a bounce),
 * RCPT TO, QUIT. 2xx = exists, 5xx = unknown, 4xx or no answer = cannot tell. One deadline for
 * the whole dialogue. Answers are cached per process (CalloutCache, TTLs for positive and
 * negative answers, never for "cannot tell"); concurrent probes of one address share a dialogue.
 *
 * Hand-written on node:net because nodemailer's SMTPConnection offers no RCPT-only probe (its
 * send() always goes on to DATA). Cleartext on purpose: the next hop is an internal server.
 */
import { connect, type Socket } from 'node:net';

export interface ProbeResult {
  /** accept: 2xx to RCPT; reject: 5xx; tempfail: 4xx, no connection or no answer in time. */
  readonly status: 'accept' | 'reject' | 'tempfail';
  /** The server's reply (or our reason), for logs. */
  readonly reply: string;
}

/** `host:port`, `[ip]:port` or `host` (port 25) → connect arguments. */
export function parseHostPort(hp: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(hp);
  if (!m) throw new Error(`bad next hop ${hp}`);
  return { host: (m[1] ?? m[2])!, port: m[3] ? Number(m[3]) : 25 };
}

/** Reads whole (possibly multi-line) SMTP replies from a socket. */
class ReplyReader {
  #buf = '';
  #lines: string[] = [];
  #waiters: Array<(r: { code: number; text: string } | Error) => void> = [];
  #failed: Error | null = null;

  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i).replace(/\r$/, '');
        this.#buf = this.#buf.slice(i + 1);
        this.#lines.push(line);
        if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
          const lines = this.#lines;
          this.#lines = [];
          this.#waiters.shift()?.({ code: Number(line.slice(0, 3)), text: lines.join(' / ') });
        }
      }
    });
    const fail = (err: Error) => {
      this.#failed ??= err;
      for (const w of this.#waiters.splice(0)) w(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  next(): Promise<{ code: number; text: string }> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => this.#waiters.push((r) => (r instanceof Error ? reject(r) : resolve(r))));
  }
}

/** One probe against one host. */
export async function probeRecipient(hostPort: string, recipient: string, opts: { helo: string; timeoutMs: number }): Promise<ProbeResult> {
  const { host, port } = parseHostPort(hostPort);
  const socket = connect({ host, port });
  const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  const reader = new ReplyReader(socket);
  const step = async (line: string | null) => {
    if (line !== null) socket.write(`${line}\r\n`);
    return reader.next();
  };
  try {
    const greeting = await step(null);
    if (greeting.code !== 220) return { status: 'tempfail', reply: `greeting: ${greeting.text}` };
    let hello = await step(`EHLO ${opts.helo}`);
    if (hello.code >= 500) hello = await step(`HELO ${opts.helo}`);
    if (hello.code !== 250) return { status: 'tempfail', reply: `EHLO: ${hello.text}` };
    const mail = await step('MAIL FROM:<>');
    if (mail.code !== 250) return { status: 'tempfail', reply: `MAIL FROM:<>: ${mail.text}` };
    const rcpt = await step(`RCPT TO:<${recipient}>`);
    socket.write('QUIT\r\n');
    if (rcpt.code >= 200 && rcpt.code < 300) return { status: 'accept', reply: rcpt.text };
    if (rcpt.code >= 500) return { status: 'reject', reply: rcpt.text };
    return { status: 'tempfail', reply: rcpt.text };
  } catch (err) {
    return { status: 'tempfail', reply: `${hostPort}: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

/**
 * Ask the next hops in order (failover, like delivery): the first definite answer (2xx or 5xx)
 * decides; "tempfail" when none could give one.
 */
export async function probeHosts(hosts: readonly string[], recipient: string, opts: { helo: string; timeoutMs: number }): Promise<ProbeResult> {
  let last: ProbeResult = { status: 'tempfail', reply: 'no next hop' };
  for (const h of hosts) {
    last = await probeRecipient(h, recipient, opts);
    if (last.status !== 'tempfail') return last;
  }
  return last;
}

/** A bounded TTL cache of probe answers (oldest insertion dropped when full). */
export class CalloutCache {
  readonly #entries = new Map<string, { result: ProbeResult; expires: number }>();
  readonly #inflight = new Map<string, Promise<ProbeResult>>();

  constructor(private readonly opts: { positiveTtlMs: number; negativeTtlMs: number; maxEntries: number; now?: () => number }) {}

  get size(): number {
    return this.#entries.size;
  }

  async lookup(key: string, probe: () => Promise<ProbeResult>): Promise<ProbeResult & { cached: boolean }> {
    const now = (this.opts.now ?? Date.now)();
    const e = this.#entries.get(key);
    if (e && e.expires > now) return { ...e.result, cached: true };
    if (e) this.#entries.delete(key);
    let p = this.#inflight.get(key);
    if (!p) {
      p = probe().finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
      const result = await p;
      const ttl = result.status === 'accept' ? this.opts.positiveTtlMs : result.status === 'reject' ? this.opts.negativeTtlMs : 0;
      if (ttl > 0 && this.opts.maxEntries > 0) {
        if (this.#entries.size >= this.opts.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
        this.#entries.set(key, { result, expires: (this.opts.now ?? Date.now)() + ttl });
      }
      return { ...result, cached: false };
    }
    return { ...(await p), cached: false };
  }
}
