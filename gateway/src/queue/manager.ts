/*
 * queue/manager.ts — the queue manager: picks due entries, hands them to transports, records
 * each recipient's outcome, bounces and expires, and removes what is finished.
 *
 * Runs in the primary process only (one scheduler, so the in-memory `active` claim is enough).
 * Woken by receiver workers ("queued QID") and by a coarse timer for deferred entries.
 * An entry leaves the queue only when every recipient has a final outcome: delivered, bounced
 * (with a DSN queued first, in the same transaction) or expired (likewise). Delivery is
 * at-least-once: a crash between the remote 250 and our commit repeats the delivery.
 */
import type { Config } from '../config/index.js';
import type { DeliveryOutcome, QueueEntry, QueueRecipient, QueueState } from '../core/index.js';
import { newQid, qidTime } from '../core/index.js';
import type { Route, Transport } from '../deliver/types.js';
import { logEvent, type Logger } from '../log/index.js';
import { sweepTrace, type StateEnvs, type TraceEvent } from '../state/index.js';
import { applyHeaderEdits, readHeaderBlock } from './body.js';
import { buildDsn, needsDsn, type DsnKind } from './dsn.js';
import { isExpired, nextAttemptDelay } from './schedule.js';
import { segmentOwner, Spool } from './spool.js';
import { isScheduled, receiptEvent, removeEntry, replaceEntry, traceEventSync } from './states.js';

export interface DeliveryServices {
  routeFor(recipient: string): Route;
  transportFor(route: Route): Transport;
}

export interface QueueCounts { readonly [state: string]: number }

export class QueueManager {
  #config: Config;
  #services: DeliveryServices;
  readonly #state: StateEnvs;
  readonly #spool: Spool;
  readonly #log: Logger;
  readonly #active = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #scanning = false;
  #rescan = false;
  #stopped = false;
  readonly #inflight = new Set<Promise<void>>();
  readonly stats = { delivered: 0, deferred: 0, bounced: 0, expired: 0, attempts: 0 };
  /** Segment → when its writer sealed it. */
  readonly #sealed = new Map<string, number>();
  readonly #isLiveWriter: (pid: number) => boolean;
  #gcTimer: NodeJS.Timeout | null = null;

  constructor(config: Config, services: DeliveryServices, state: StateEnvs, spool: Spool, log: Logger, opts: { isLiveWriter?: (pid: number) => boolean } = {}) {
    this.#isLiveWriter = opts.isLiveWriter ?? ((pid) => pid === process.pid);
    this.#config = config;
    this.#services = services;
    this.#state = state;
    this.#spool = spool;
    this.#log = log;
  }

  /** Swap config and transports atomically (SIGHUP). Jobs in flight finish on the old ones. */
  reconfigure(config: Config, services: DeliveryServices): void {
    this.#config = config;
    this.#services = services;
    this.#armTimer();
  }

  start(): void {
    this.#armTimer();
    this.#gcTimer = setInterval(() => {
      try {
        const r = this.collectGarbage();
        if (r.segments + r.files > 0) this.#log.debug({ event: 'removed', ...r }, 'spool garbage collected');
        void sweepTrace(this.#state, Date.now() - this.#config.queue.traceRetentionMs).catch((err: unknown) => {
          this.#log.warn({ event: 'warning', err: (err as Error).message }, 'trace retention sweep failed');
        });
      } catch (err) {
        this.#log.warn({ event: 'warning', err: (err as Error).message }, 'spool garbage collection failed');
      }
    }, 60_000);
    this.#gcTimer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#gcTimer) clearInterval(this.#gcTimer);
    await Promise.allSettled([...this.#inflight]);
  }

  /** Look for due work now (new mail arrived, or the postmaster flushed). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#scanning) {
      this.#rescan = true;
      return;
    }
    this.#scanning = true;
    try {
      do {
        this.#rescan = false;
        this.#scan();
      } while (this.#rescan && !this.#stopped);
    } finally {
      this.#scanning = false;
    }
  }

  #armTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = setInterval(() => this.wake(), this.#config.delivery.scanIntervalMs);
    this.#timer.unref();
  }

  #scan(): void {
    // Bound the active set so a huge backlog cannot exhaust memory or sockets; transports
    // apply the finer per-destination limits.
    const capacity = this.#config.delivery.maxConnections * 4 - this.#active.size;
    if (capacity <= 0) return;
    const now = Date.now();
    // Other processes commit new entries; make sure this read sees them.
    this.#state.durable.resetReadTxn();
    let taken = 0;
    for (const key of this.#state.due.getKeys({ start: [0, ''], end: [now + 1, ''], snapshot: false })) {
      const qid = (key as [number, string])[1];
      if (this.#active.has(qid)) continue;
      const entry = this.#state.queue.get(qid);
      if (!entry || !isScheduled(entry.state)) continue;
      this.#active.add(qid);
      const p = this.#attempt(entry).catch((err: unknown) => {
        this.#log.error({ event: 'warning', qid, err }, 'delivery attempt failed unexpectedly');
      }).finally(() => {
        this.#active.delete(qid);
        this.#inflight.delete(p);
      });
      this.#inflight.add(p);
      if (++taken >= capacity) break;
    }
  }

  async #attempt(entry: QueueEntry): Promise<void> {
    const started = Date.now();
    const problem = this.#spool.check(entry.qid, entry.body);
    if (problem) {
      // Retrying cannot bring a body back: park the entry in `corrupt` for the postmaster
      // (never deleted automatically), rather than defer it until it expires.
      await this.#move(entry.qid, (e) => e.state !== 'corrupt', (e) => ({ ...e, state: 'corrupt' }), 'corrupt', { problem });
      this.#log.error({ event: 'warning', qid: entry.qid, problem }, 'queued message has no readable body: moved to corrupt');
      return;
    }
    const pending = entry.recipients.filter((r) => r.state === 'pending');
    const groups = new Map<string, { route: Route; rcpts: string[] }>();
    for (const r of pending) {
      const route = this.#services.routeFor(r.address);
      const g = groups.get(route.key);
      if (g) g.rcpts.push(r.address);
      else groups.set(route.key, { route, rcpts: [r.address] });
    }
    const outcomes: DeliveryOutcome[] = [];
    await Promise.all([...groups.values()].map(async ({ route, rcpts }) => {
      const transport = this.#services.transportFor(route);
      try {
        outcomes.push(...await transport.deliver({
          entry, recipients: rcpts, route,
          openBody: () => applyHeaderEdits(this.#spool.open(entry.qid, entry.body, entry.size), entry.headerEdits),
        }));
      } catch (err) {
        // A transport must not throw; if one does, nothing was decided: defer, never bounce.
        for (const address of rcpts) {
          outcomes.push({ recipient: address, status: 'deferred', dsn: '4.3.0', response: `local error: ${(err as Error).message}`, relay: route.key });
        }
      }
    }));
    this.stats.attempts++;
    await this.#record(entry.qid, outcomes, started);
  }

  /** Apply outcomes in one transaction, queueing DSNs first; then remove finished spool files. */
  async #record(qid: string, outcomes: DeliveryOutcome[], started: number): Promise<void> {
    const now = Date.now();
    const byRcpt = new Map(outcomes.map((o) => [o.recipient, o]));
    const current = this.#state.queue.get(qid);
    if (!current) return; // deleted by the postmaster while we delivered
    const recipients: QueueRecipient[] = current.recipients.map((r) => {
      const o = r.state === 'pending' ? byRcpt.get(r.address) : undefined;
      if (!o) return { ...r };
      const state = o.status === 'delivered' ? 'delivered' : o.status === 'bounced' ? 'bounced' : 'pending';
      return { ...r, state, attempts: r.attempts + 1, lastDsn: o.dsn, lastResponse: o.response, lastRelay: o.relay };
    });
    const expired = isExpired(this.#config.queue, current.receivedAt, now);
    if (expired) {
      for (const r of recipients) if (r.state === 'pending') r.state = 'expired';
    }
    const failedNow = recipients.filter((r, i) => (r.state === 'bounced' || r.state === 'expired') && current.recipients[i]?.state === 'pending');
    const finished = recipients.every((r) => r.state !== 'pending');
    const attempts = current.attempts + 1;
    const warnDelay = !finished && !current.delayWarned && this.#config.queue.delayWarningMs > 0
      && now - current.receivedAt >= this.#config.queue.delayWarningMs && needsDsn(current);

    // DSN messages are written to the spool before the transaction that makes them real.
    const dsns: QueueEntry[] = [];
    if (failedNow.length > 0 && needsDsn(current)) dsns.push(await this.#makeDsn(current, failedNow, 'failed'));
    if (warnDelay) dsns.push(await this.#makeDsn(current, recipients.filter((r) => r.state === 'pending'), 'delayed'));

    const state: QueueState = current.state === 'hold' ? 'hold' : 'deferred';
    const next: QueueEntry = {
      ...current, recipients, attempts, state,
      nextAttemptAt: now + nextAttemptDelay(this.#config.queue, attempts),
      delayWarned: current.delayWarned || warnDelay,
    };
    await this.#state.durable.transaction(() => {
      const fresh = this.#state.queue.get(qid);
      if (!fresh) return;
      for (const d of dsns) {
        this.#state.queue.putSync(d.qid, d);
        this.#state.due.putSync([d.nextAttemptAt, d.qid], 1);
      }
      if (finished) {
        removeEntry(this.#state, fresh);
        const { at, event, ...fields } = receiptEvent(fresh);
        traceEventSync(this.#state, qid, event, fields, at);
      }
      else replaceEntry(this.#state, fresh, { ...next, state: fresh.state === 'hold' ? 'hold' : state });
      for (const o of outcomes) {
        const r = recipients.find((x) => x.address === o.recipient);
        const event = r?.state === 'expired' ? 'expired' : o.status;
        traceEventSync(this.#state, qid, event, { to: o.recipient, relay: o.relay, dsn: o.dsn, response: o.response, delay: (now - current.receivedAt) / 1000 });
      }
      for (const r of recipients) {
        if (r.state === 'expired' && !byRcpt.has(r.address)) traceEventSync(this.#state, qid, 'expired', { to: r.address });
      }
      if (finished) traceEventSync(this.#state, qid, 'removed', {});
    });
    for (const d of dsns) logEvent(this.#log, 'queued', { qid: d.qid, from: '', to: d.recipients.map((r) => r.address), size: d.size, dsnFor: qid });
    for (const o of outcomes) {
      const r = recipients.find((x) => x.address === o.recipient);
      const event = r?.state === 'expired' ? 'expired' : o.status;
      this.stats[event]++;
      const fields = { qid, to: o.recipient, relay: o.relay, delay: (now - current.receivedAt) / 1000, attemptMs: now - started, dsn: o.dsn, status: event, response: o.response };
      if (event === 'delivered') logEvent(this.#log, 'delivered', fields);
      else this.#log.warn({ event, ...fields }, event);
    }
    if (finished) {
      this.#spool.remove(qid, current.body);
      logEvent(this.#log, 'removed', { qid });
    }
    if (dsns.length > 0) this.wake();
  }

  async #makeDsn(entry: QueueEntry, failed: QueueRecipient[], kind: DsnKind): Promise<QueueEntry> {
    let headers = '';
    try {
      headers = await readHeaderBlock(this.#spool.open(entry.qid, entry.body, entry.size));
    } catch {
      headers = `X-TuxHat-Note: original headers unavailable (${entry.qid})\r\n`;
    }
    const body = buildDsn({ entry, recipients: failed, kind, reportingMta: this.#config.hostname, originalHeaders: headers });
    const qid = newQid();
    const where = await this.#spool.writeBuffer(qid, body);
    const now = Date.now();
    return {
      qid, state: 'incoming', direction: 'outbound', listener: 'dsn', client: 'localhost', helo: this.#config.hostname,
      authUser: null, mailFrom: '', recipients: [{ address: entry.mailFrom, state: 'pending', attempts: 0 }],
      size: body.length, body: where, messageId: null, bodyType: '8bitmime', smtpUtf8: false, receivedAt: now, nextAttemptAt: now,
      attempts: 0, headerEdits: [], isBounce: true, delayWarned: false,
      receipt: { from: '', to: [entry.mailFrom], size: body.length, dsnFor: entry.qid, action: 'deliver' },
    };
  }

  // ---- postmaster operations (admin API) ----

  counts(): QueueCounts {
    const counts: Record<string, number> = { incoming: 0, deferred: 0, hold: 0, corrupt: 0, active: this.#active.size };
    this.#state.durable.resetReadTxn();
    for (const { value } of this.#state.queue.getRange({ snapshot: false })) counts[value.state] = (counts[value.state] ?? 0) + 1;
    return counts;
  }

  list(state?: QueueState): QueueEntry[] {
    this.#state.durable.resetReadTxn();
    const out: QueueEntry[] = [];
    for (const { value } of this.#state.queue.getRange({ snapshot: false })) {
      if (!state || value.state === state) out.push(value);
    }
    return out;
  }

  show(qid: string): QueueEntry | null {
    this.#state.durable.resetReadTxn();
    return this.#state.queue.get(qid) ?? null;
  }

  isActive(qid: string): boolean {
    return this.#active.has(qid);
  }

  async flush(qid?: string): Promise<number> {
    const now = Date.now();
    let n = 0;
    await this.#state.durable.transaction(() => {
      const entries = qid ? [this.#state.queue.get(qid)].filter((e): e is QueueEntry => !!e) : [...this.#state.queue.getRange({ snapshot: false })].map((x) => x.value);
      for (const e of entries) {
        if (!isScheduled(e.state) || e.nextAttemptAt <= now) continue;
        replaceEntry(this.#state, e, { ...e, nextAttemptAt: now });
        n++;
      }
    });
    this.wake();
    return n;
  }

  async hold(qid: string, reason = 'postmaster'): Promise<boolean> {
    return this.#move(qid, (e) => e.state !== 'hold', (e) => ({ ...e, state: 'hold' }), 'held', { reason });
  }

  async release(qid: string): Promise<boolean> {
    const ok = await this.#move(qid, (e) => e.state === 'hold', (e) => ({ ...e, state: 'deferred', nextAttemptAt: Date.now() }), 'released', {});
    if (ok) this.wake();
    return ok;
  }

  async remove(qid: string): Promise<boolean> {
    let found: QueueEntry | null = null;
    await this.#state.durable.transaction(() => {
      const e = this.#state.queue.get(qid);
      if (!e) return;
      found = e;
      removeEntry(this.#state, e);
      const { at, event, ...fields } = receiptEvent(e);
      traceEventSync(this.#state, qid, event, fields, at);
      traceEventSync(this.#state, qid, 'removed', { by: 'postmaster' });
    });
    if (found) {
      this.#spool.remove(qid, (found as QueueEntry).body);
      logEvent(this.#log, 'removed', { qid, by: 'postmaster' });
    }
    return found !== null;
  }

  async #move(qid: string, allowed: (e: QueueEntry) => boolean, change: (e: QueueEntry) => QueueEntry, event: 'held' | 'released' | 'corrupt', fields: Record<string, unknown>): Promise<boolean> {
    let ok = false;
    await this.#state.durable.transaction(() => {
      const e = this.#state.queue.get(qid);
      if (!e || !allowed(e)) return;
      replaceEntry(this.#state, e, change(e));
      traceEventSync(this.#state, qid, event, fields);
      ok = true;
    });
    if (ok && event !== 'corrupt') logEvent(this.#log, event, { qid, ...fields });
    return ok;
  }

  trace(qid: string): TraceEvent[] {
    this.#state.durable.resetReadTxn();
    const events = [...this.#state.trace.getRange({ start: [qid], end: [qid, Number.MAX_SAFE_INTEGER], snapshot: false })].map((x) => x.value);
    const live = this.#state.queue.get(qid);
    // While queued, the receipt lives in the entry; it joins the trace store when it leaves.
    if (live) events.push(receiptEvent(live));
    return events.sort((a, b) => a.at - b.at);
  }

  /** A receiver reported that it sealed a segment: once unreferenced it may be deleted. */
  noteSealed(segment: string): void {
    this.#sealed.set(segment, Date.now());
  }

  /**
   * Delete spool data no queue record points to: sealed segments without live entries, and
   * message files without a record. At start-up (no receiver running yet) everything
   * unreferenced is a crash leftover; later, a file is only taken once it is an hour old (a
   * receiver may be between writing it and committing its record), and a segment only once
   * its writer died, or sealed it more than 10 minutes ago (its last message's record may
   * still be on its way to the commit when the seal is reported).
   */
  collectGarbage(startup = false): { segments: number; files: number } {
    this.#state.durable.resetReadTxn();
    const referenced = new Set<string>();
    const queued = new Set<string>();
    for (const { key, value } of this.#state.queue.getRange({ snapshot: false })) {
      queued.add(key);
      if (value.body.kind === 'segment') referenced.add(value.body.segment);
    }
    const hourAgo = Date.now() - 3600_000;
    const files = this.#spool.listFiles().filter((qid) => !queued.has(qid) && (startup || qidTime(qid) < hourAgo));
    const settled = Date.now() - 600_000;
    const isSealed = (seg: string) => startup || (this.#sealed.get(seg) ?? Infinity) < settled || !this.#isLiveWriter(segmentOwner(seg));
    const removed = this.#spool.gc(referenced, isSealed, files);
    const present = new Set(this.#spool.listSegments());
    for (const seg of this.#sealed.keys()) if (!present.has(seg)) this.#sealed.delete(seg);
    return removed;
  }
}
