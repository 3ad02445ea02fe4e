/*
 * deliver/smtp-client.ts — delivers one job over SMTP to an ordered list of addresses, with
 * failover, session reuse and the connection limits. Shared by the smtp and mx transports.
 *
 * (job, destination with its hops) → one DeliveryOutcome per recipient. Within the concurrency
 * limits (pool.ts), an idle session to the same destination is reused after a successful RSET
 * (Postfix looks its connection cache up by destination first, too); otherwise hops are tried in
 * order, moving on when one cannot be used: connect failure, 4xx/5xx greeting, TLS or AUTH
 * failure. Once a transaction has started the replies are final for this attempt: recipients
 * refused with 4xx are deferred, not retried elsewhere now (the queue retries them later).
 * When every hop fails, all recipients are deferred with the last hop's reason. It does not
 * resolve names (the transports build the hops through dns/). Runs in the primary (delivery).
 */
import { readFile } from 'node:fs/promises';
import type { Config, TlsPolicy } from '../config/index.js';
import type { DeliveryOutcome } from '../core/index.js';
import type { Logger } from '../log/index.js';
import type { DeliveryJob } from './types.js';
import type { Hop } from './next-hop.js';
import { forAll } from './outcomes.js';
import { SessionPool, type PoolStats } from './pool.js';
import { openSession, type HopFailure, type SmtpSession } from './smtp-session.js';

export interface Destination {
  /** Route key; the unit of concurrency and session reuse. */
  readonly key: string;
  readonly hops: readonly Hop[];
  readonly tls: TlsPolicy;
  readonly auth?: { readonly user: string; readonly passwordFile: string } | undefined;
}

export interface SmtpClient {
  deliver(job: DeliveryJob, dest: Destination): Promise<DeliveryOutcome[]>;
  stats(): PoolStats;
  close(): Promise<void>;
}

export function createSmtpClient(config: Config, log: Logger): SmtpClient {
  const d = config.delivery;
  const pool = new SessionPool<SmtpSession>({ max: d.maxConnections, perDestination: d.maxConnectionsPerDestination });

  const deferAll = (job: DeliveryJob, f: HopFailure): DeliveryOutcome[] => forAll(job, 'deferred', f.dsn, f.text, f.relay);

  return {
    async deliver(job, dest) {
      // Sessions differ by TLS policy and login, so those are part of what may be reused.
      const poolKey = `${dest.key}|${dest.tls}|${dest.auth?.user ?? ''}`;
      let lease;
      try {
        lease = await pool.acquire(poolKey);
      } catch {
        return deferAll(job, { dsn: '4.3.2', text: 'delivery is shutting down', relay: dest.key });
      }
      let session: SmtpSession | null = lease.session;
      try {
        if (session && !(await session.reset())) {
          session.abort();
          session = null;
        }
        if (!session) {
          const opened = await openFirstHop(dest, config, log);
          if (!opened.ok) return deferAll(job, opened.failure);
          session = opened.session;
        }
        const result = await session.transfer({
          from: job.entry.mailFrom,
          recipients: job.recipients,
          size: job.entry.size,
          eightBit: job.entry.bodyType === '8bitmime',
          smtpUtf8: job.entry.smtpUtf8,
          body: job.openBody,
        });
        if (!result.reusable) {
          // Not QUIT: the session may be in the middle of DATA, where QUIT would be message text.
          session.abort();
          session = null;
        }
        return result.outcomes;
      } finally {
        pool.release(lease, session);
      }
    },
    stats: () => pool.stats(),
    async close() {
      pool.close();
    },
  };
}

async function openFirstHop(dest: Destination, config: Config, log: Logger):
  Promise<{ ok: true; session: SmtpSession } | { ok: false; failure: HopFailure }> {
  let auth: { user: string; pass: string } | undefined;
  if (dest.auth) {
    try {
      // Read at each new session, so a rotated password needs no restart.
      auth = { user: dest.auth.user, pass: (await readFile(dest.auth.passwordFile, 'utf8')).trim() };
    } catch (err) {
      return { ok: false, failure: { dsn: '4.3.5', relay: dest.key, text: `cannot read the SMTP password file ${dest.auth.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` } };
    }
  }
  let last: HopFailure = { dsn: '4.4.1', relay: dest.key, text: `no next hop address for ${dest.key}` };
  for (const hop of dest.hops) {
    const opened = await openSession({
      hop,
      tls: dest.tls,
      heloName: config.hostname,
      connectTimeoutMs: config.delivery.connectTimeoutMs,
      greetingTimeoutMs: config.delivery.greetingTimeoutMs,
      socketTimeoutMs: config.delivery.socketTimeoutMs,
      ...(auth ? { auth } : {}),
    }, log);
    if (opened.ok) return opened;
    last = opened.failure;
    log.debug({ relay: last.relay, dsn: last.dsn, response: last.text }, 'next hop unusable, trying the next one');
  }
  return { ok: false, failure: last };
}
