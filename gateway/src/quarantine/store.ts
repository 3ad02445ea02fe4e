/*
 * quarantine/store.ts — the durable quarantine: message bodies in their own directory, the index
 * in the durable LMDB environment (named database `quarantine` in queue.lmdb), per recipient.
 *
 * put() is the API every stage uses (antivirus and spam verdicts, DMARC quarantine, rules that
 * keep the original of a stripped message): it resolves only when the body file is fsync'd, its
 * directory entry fsync'd and the record committed and synced (the durable environment has
 * overlappingSync: false), so a 250 answered after it keeps contract 1 (no loss).
 * A record keeps each recipient's state: held → released (delivered through the normal queue,
 * by whom, as which queue id) or deleted (by whom). The body is removed once no recipient is
 * held any more, or when the record expires (retention, sweep()). Every change is also written
 * to the message's trace (`tuxhat trace QID`). Runs in receiver workers (put) and the primary
 * (list, show, release, delete, sweep); LMDB makes that multi-process safe.
 */
import { closeSync, createReadStream, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Database } from 'lmdb';
import type { Config } from '../config/index.js';
import type { Direction, Envelope, HeaderEdit } from '../core/index.js';
import { traceEventSync } from '../queue/states.js';
import type { StateEnvs } from '../state/index.js';

export type QuarantineRecipientState = 'held' | 'released' | 'deleted';

export interface QuarantineRecipient {
  readonly address: string;
  state: QuarantineRecipientState;
  /** Who released or deleted it, and when (epoch ms). */
  by?: string;
  at?: number;
  /** The queue id the released copy was queued as. */
  releasedAs?: string;
}

export interface QuarantineHistory {
  readonly at: number;
  readonly action: 'quarantined' | 'released' | 'deleted' | 'learned spam' | 'learned ham';
  readonly by: string;
  readonly recipients: readonly string[];
  readonly releasedAs?: string;
}

export interface QuarantineRecord {
  readonly qid: string;
  readonly direction: Direction;
  readonly mailFrom: string;
  readonly bodyType: '7bit' | '8bitmime';
  readonly smtpUtf8: boolean;
  readonly recipients: QuarantineRecipient[];
  /** Why, in one phrase, e.g. "virus Eicar-Signature" or "spam score 12.3". */
  readonly reason: string;
  /** The verdict record (client, helo, user, score, symbols, action…), as logged. */
  readonly verdict: Readonly<Record<string, unknown>>;
  /** Header edits the verdict asked for (Authentication-Results…), applied on release. */
  readonly headerEdits: readonly HeaderEdit[];
  readonly size: number;
  readonly messageId: string | null;
  readonly subject: string | null;
  readonly storedAt: number;
  readonly expiresAt: number;
  /** False once no recipient is held: the body file is gone. */
  hasBody: boolean;
  readonly history: QuarantineHistory[];
}

/** What put() takes; the shape every branch calls. */
export interface QuarantinePut {
  readonly qid: string;
  readonly direction: Direction;
  readonly envelope: Pick<Envelope, 'mailFrom' | 'bodyType' | 'smtpUtf8'>;
  /** The recipients whose copy is quarantined (a subset of the envelope's, or all). */
  readonly recipients: readonly string[];
  readonly reason: string;
  readonly verdict: Readonly<Record<string, unknown>>;
  /** The original message as it would be queued (our Received header first). */
  readonly body: Readable | Buffer;
  readonly headerEdits?: readonly HeaderEdit[];
  readonly messageId?: string | null;
  readonly subject?: string | null;
}

/** A line of `tuxhat quarantine list`. */
export interface QuarantineSummary {
  readonly qid: string;
  readonly direction: Direction;
  readonly mailFrom: string;
  readonly held: readonly string[];
  readonly reason: string;
  readonly size: number;
  readonly subject: string | null;
  readonly storedAt: number;
  readonly expiresAt: number;
}

export function summarizeQuarantine(r: QuarantineRecord): QuarantineSummary {
  return {
    qid: r.qid, direction: r.direction, mailFrom: r.mailFrom, held: r.recipients.filter((x) => x.state === 'held').map((x) => x.address),
    reason: r.reason, size: r.size, subject: r.subject, storedAt: r.storedAt, expiresAt: r.expiresAt,
  };
}

export class QuarantineError extends Error {
  /** 404: no such entry; 409: nothing to do in its state (e.g. no held recipient left). */
  readonly status: 404 | 409;
  constructor(status: 404 | 409, message: string) {
    super(message);
    this.name = 'QuarantineError';
    this.status = status;
  }
}

export function quarantineDir(config: Config): string {
  return config.quarantine.dir ?? join(config.paths.spool, 'quarantine');
}

export class QuarantineStore {
  readonly dir: string;
  readonly #state: StateEnvs;
  readonly #db: Database<QuarantineRecord, string>;
  readonly #retentionMs: number;

  constructor(state: StateEnvs, config: Config) {
    this.#state = state;
    this.dir = quarantineDir(config);
    this.#retentionMs = config.quarantine.retentionMs;
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    this.#db = state.durable.openDB<QuarantineRecord, string>('quarantine', { encoding: 'msgpack' });
  }

  pathOf(qid: string): string {
    return join(this.dir, qid);
  }

  /** Store a message; resolves once body and record are durable. A second put of a qid adds recipients. */
  async put(p: QuarantinePut): Promise<QuarantineRecord> {
    const now = Date.now();
    const existing = this.get(p.qid);
    let size = existing?.size ?? 0;
    if (!existing?.hasBody) size = await this.#writeBody(p.qid, p.body);
    else if (!Buffer.isBuffer(p.body)) p.body.destroy();
    const known = new Set(existing?.recipients.map((r) => r.address.toLowerCase()) ?? []);
    const added = p.recipients.filter((a) => !known.has(a.toLowerCase()));
    const record: QuarantineRecord = existing
      ? {
          ...existing, hasBody: true,
          recipients: [...existing.recipients, ...added.map((address) => ({ address, state: 'held' as const }))],
          history: [...existing.history, { at: now, action: 'quarantined', by: 'gateway', recipients: [...p.recipients] }],
        }
      : {
          qid: p.qid, direction: p.direction, mailFrom: p.envelope.mailFrom, bodyType: p.envelope.bodyType, smtpUtf8: p.envelope.smtpUtf8,
          recipients: p.recipients.map((address) => ({ address, state: 'held' as const })), reason: p.reason, verdict: p.verdict,
          headerEdits: [...(p.headerEdits ?? [])], size, messageId: p.messageId ?? null, subject: p.subject ?? null,
          storedAt: now, expiresAt: now + this.#retentionMs, hasBody: true,
          history: [{ at: now, action: 'quarantined', by: 'gateway', recipients: [...p.recipients] }],
        };
    await this.#state.durable.transaction(() => {
      this.#db.putSync(p.qid, record);
      traceEventSync(this.#state, p.qid, 'quarantined', { ...p.verdict, to: [...p.recipients], reason: p.reason, action: 'quarantine' }, now);
    });
    return record;
  }

  get(qid: string): QuarantineRecord | null {
    this.#state.durable.resetReadTxn();
    return this.#db.get(qid) ?? null;
  }

  /** Records with a held copy (for one recipient when given), oldest first. */
  list(opts: { recipient?: string; all?: boolean } = {}): QuarantineRecord[] {
    this.#state.durable.resetReadTxn();
    const want = opts.recipient?.toLowerCase();
    const out: QuarantineRecord[] = [];
    for (const { value } of this.#db.getRange({ snapshot: false })) {
      const held = value.recipients.filter((r) => r.state === 'held');
      if (!opts.all && held.length === 0) continue;
      if (want && !(opts.all ? value.recipients : held).some((r) => r.address.toLowerCase() === want)) continue;
      out.push(value);
    }
    return out.sort((a, b) => a.storedAt - b.storedAt);
  }

  /** The stored message (our Received header first, the verdict's edits not applied). */
  openBody(qid: string): Readable {
    return createReadStream(this.pathOf(qid), { highWaterMark: 64 * 1024 });
  }

  /** The header block of the stored message, bounded to 64 KiB. */
  headers(qid: string): string | null {
    try {
      const buf = readFileSync(this.pathOf(qid));
      const end = buf.indexOf('\r\n\r\n');
      return buf.subarray(0, end === -1 ? Math.min(buf.length, 64 * 1024) : Math.min(end + 2, 64 * 1024)).toString('utf8');
    } catch {
      return null;
    }
  }

  /**
   * The held recipients an operation applies to: `requested` (case-insensitive) or all held ones.
   * Throws 404 for an unknown qid, 409 when none of them is held.
   */
  targets(qid: string, requested: readonly string[]): { record: QuarantineRecord; recipients: string[] } {
    const record = this.get(qid);
    if (!record) throw new QuarantineError(404, `no quarantined message with queue id ${qid}`);
    const held = record.recipients.filter((r) => r.state === 'held');
    if (requested.length === 0) {
      if (held.length === 0) throw new QuarantineError(409, `${qid} has no recipient left in quarantine`);
      return { record, recipients: held.map((r) => r.address) };
    }
    const out: string[] = [];
    for (const want of requested) {
      const r = record.recipients.find((x) => x.address.toLowerCase() === want.toLowerCase());
      if (!r) throw new QuarantineError(409, `${want} is not a recipient of ${qid}`);
      if (r.state !== 'held') throw new QuarantineError(409, `${want} of ${qid} is already ${r.state}`);
      out.push(r.address);
    }
    return { record, recipients: out };
  }

  /**
   * Mark recipients released (as `releasedAs`) or deleted, by whom; removes the body when no
   * recipient is held any more. Call after the released copy is durably queued.
   */
  async settle(qid: string, recipients: readonly string[], action: 'released' | 'deleted', by: string, releasedAs?: string): Promise<QuarantineRecord> {
    const now = Date.now();
    let after: QuarantineRecord | null = null;
    await this.#state.durable.transaction(() => {
      const record = this.#db.get(qid);
      if (!record) throw new QuarantineError(404, `no quarantined message with queue id ${qid}`);
      const set = new Set(recipients.map((a) => a.toLowerCase()));
      const updated = record.recipients.map((r) => (set.has(r.address.toLowerCase()) && r.state === 'held'
        ? { ...r, state: action, by, at: now, ...(releasedAs ? { releasedAs } : {}) }
        : r));
      const stillHeld = updated.some((r) => r.state === 'held');
      after = {
        ...record, recipients: updated, hasBody: stillHeld,
        history: [...record.history, { at: now, action, by, recipients: [...recipients], ...(releasedAs ? { releasedAs } : {}) }],
      };
      this.#db.putSync(qid, after);
      traceEventSync(this.#state, qid, action === 'released' ? 'released' : 'removed', { to: [...recipients], by, from: 'quarantine', ...(releasedAs ? { releasedAs } : {}) }, now);
    });
    const result = after as unknown as QuarantineRecord;
    if (!result.hasBody) unlinkIfExists(this.pathOf(qid));
    return result;
  }

  /** Record in the history that the message trained the Bayes store (who trained what: issue 4). */
  async noteLearned(qid: string, cls: 'spam' | 'ham', by: string): Promise<void> {
    await this.#state.durable.transaction(() => {
      const record = this.#db.get(qid);
      if (!record) throw new QuarantineError(404, `no quarantined message with queue id ${qid}`);
      const held = record.recipients.filter((r) => r.state === 'held').map((r) => r.address);
      this.#db.putSync(qid, { ...record, history: [...record.history, { at: Date.now(), action: `learned ${cls}`, by, recipients: held }] });
    });
  }

  /** Remove records past their retention (and their bodies); returns how many. */
  async sweep(now = Date.now(), limit = 10_000): Promise<number> {
    this.#state.durable.resetReadTxn();
    const expired: string[] = [];
    for (const { key, value } of this.#db.getRange({ snapshot: false })) {
      if (value.expiresAt <= now) expired.push(key);
      if (expired.length >= limit) break;
    }
    if (expired.length === 0) return 0;
    await this.#state.durable.transaction(() => {
      for (const qid of expired) {
        this.#db.removeSync(qid);
        traceEventSync(this.#state, qid, 'expired', { from: 'quarantine', reason: 'retention' }, now);
      }
    });
    for (const qid of expired) unlinkIfExists(this.pathOf(qid));
    return expired.length;
  }

  /** Body files without a record (a crash between the fsync and the commit): none was answered 250. */
  orphanFiles(): string[] {
    this.#state.durable.resetReadTxn();
    return readdirSafe(this.dir).filter((f) => f.endsWith('.tmp') || this.#db.get(f) === undefined);
  }

  async #writeBody(qid: string, body: Readable | Buffer): Promise<number> {
    const tmp = join(this.dir, `${qid}.tmp`);
    const fd = openSync(tmp, 'w', 0o640);
    let size = 0;
    try {
      const chunks: Iterable<Buffer> | AsyncIterable<Buffer> = Buffer.isBuffer(body) ? [body] : (body as AsyncIterable<Buffer>);
      for await (const chunk of chunks) {
        let done = 0;
        while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
        size += chunk.length;
      }
      fdatasyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkIfExists(tmp);
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, this.pathOf(qid));
    // The directory entry must be durable before a record points to the file.
    const dfd = openSync(this.dir, 'r');
    try {
      fdatasyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    return size;
  }
}

function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
