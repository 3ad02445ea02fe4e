/*
 * test/e2e/harness/swaks.ts — swaks(1), the SMTP client a postmaster would use, from tests.
 *
 * swaks exit codes (man swaks, "EXIT CODES"): 0 ok, 2 connect error, 21 bad banner, 22 HELO
 * refused, 23 MAIL refused, 24 no RCPT accepted, 25 DATA refused, 26 message refused after '.',
 * 28 AUTH failed, 29 TLS failed; also 5 = timeout waiting for a reply.
 * For byte-exact sessions use smtpTalk / SmtpClient from ./smtp.js instead.
 */
import { LOOPBACK } from './ports.js';
import { run, which } from './util.js';

export interface SwaksResult {
  code: number;
  /** swaks' whole transcript (stdout + stderr). */
  transcript: string;
  /** The server's reply lines ('<-' and '<**' lines), without the arrow, e.g. '250 2.0.0 Ok'. */
  replies: string[];
  /** The id from a '250 … queued as ID' reply, when there is one. */
  queuedAs: string | undefined;
}

/** Runs swaks with exactly these arguments (a `--timeout 15` is added unless given). */
export async function swaks(args: string[], opts: { timeoutMs?: number } = {}): Promise<SwaksResult> {
  const bin = which('swaks', 'swaks');
  const full = args.includes('--timeout') || args.includes('-to') ? args : ['--timeout', '15', ...args];
  const r = await run(bin, full, { timeoutMs: opts.timeoutMs ?? 60_000 });
  const transcript = r.stdout + r.stderr;
  const replies = transcript
    .split('\n')
    .filter((l) => /^\s*<(-|\*\*)\s/.test(l))
    .map((l) => l.replace(/^\s*<(-|\*\*)\s+/, ''));
  const queued = /queued as (\S+)/i.exec(transcript);
  return { code: r.code, transcript, replies, queuedAs: queued?.[1] };
}

export interface SwaksSend {
  from?: string;
  to: string | string[];
  helo?: string;
  /** Extra headers, e.g. { 'Message-Id': '<x@test>' } (same-named default headers are replaced). */
  headers?: Record<string, string>;
  body?: string;
  /** A whole message instead of swaks' generated one (swaks --data). */
  data?: string;
  /** Anything else (e.g. ['--tls'], ['--auth', 'PLAIN', '--auth-user', 'u', '--auth-password', 'p']). */
  extra?: string[];
  host?: string;
}

/** Sends one message with swaks to 127.0.0.1:port. */
export function swaksSend(port: number, m: SwaksSend): Promise<SwaksResult> {
  const args = ['--server', `${m.host ?? LOOPBACK}:${port}`, '--from', m.from ?? 'sender@client.test', '--to', Array.isArray(m.to) ? m.to.join(',') : m.to, '--helo', m.helo ?? 'client.test'];
  for (const [k, v] of Object.entries(m.headers ?? {})) args.push('--header', `${k}: ${v}`);
  if (m.body !== undefined) args.push('--body', m.body);
  if (m.data !== undefined) args.push('--data', m.data);
  args.push(...(m.extra ?? []));
  return swaks(args);
}
