/*
 * deliver/maildir-transport.ts — the `maildir` transport: final delivery into
 * <path>/<domain>/<localpart>/{tmp,new,cur} (the local demo and the archive).
 *
 * DeliveryJob with a maildir route → one DeliveryOutcome per recipient. Each recipient gets its
 * own file: written to tmp/ (mode 0600, directories 0700), fsync'd, renamed into new/, and new/
 * fsync'd, so a crash leaves either nothing in new/ or the whole message (maildir(5)). Final
 * delivery adds Return-Path (RFC 5321 §4.4) and stores LF line ends, as MDAs do. Local parts
 * are folded to lower case (like Postfix local(8)), '/' '\' NUL become '_', and leading dots
 * become '_', so no name can climb out of the root; an address that still would, or cannot be
 * a file name, is bounced 5.1.1. Write failures (ENOSPC, EIO, EACCES, ...) are deferred 4.3.0:
 * the disk may come back, the mail must not be lost. Each recipient has a deadline of
 * delivery.socketTimeoutMs (the same stall budget an SMTP transfer gets). No quotas, no
 * Maildir++ folders, no Delivered-To loop check. Runs in the primary (delivery).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/index.js';
import type { DeliveryOutcome } from '../core/index.js';
import type { Logger } from '../log/index.js';
import type { DeliveryJob, Transport } from './types.js';
import { misrouted } from './outcomes.js';

const RELAY = 'maildir';
/** Errors that say the address can never become a file here: retrying will not help. */
const PERMANENT = new Set(['ENAMETOOLONG']);

export function createMaildirTransport(config: Config, log: Logger): Transport {
  const host = config.hostname.replace(/\//g, '\\057').replace(/:/g, '\\072');
  const deadlineMs = config.delivery.socketTimeoutMs;
  let seq = 0;

  const uniqueName = (): string => {
    const now = Date.now();
    // maildir(5) "modern" unique names: time, microseconds, pid, a counter and randomness.
    return `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++seq}R${randomBytes(6).toString('hex')}.${host}`;
  };

  const deliverOne = async (job: DeliveryJob, root: string, recipient: string): Promise<DeliveryOutcome> => {
    const dir = mailboxDir(root, recipient);
    if (dir === null) {
      return { recipient, status: 'bounced', dsn: '5.1.1', response: `invalid mailbox name for ${recipient}`, relay: RELAY };
    }
    let body: Readable | null = null;
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => {
      for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
      const name = uniqueName();
      const tmp = join(dir, 'tmp', name);
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.write(`Return-Path: <${job.entry.mailFrom}>\n`);
        body = job.openBody();
        await pipeline(body, new CrlfToLf(), async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) await fh.write(chunk);
        });
        await fh.sync();
      } catch (err) {
        await fh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      await fh.close();
      await rename(tmp, join(dir, 'new', name));
      const dh = await open(join(dir, 'new'), 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
      return name;
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = Object.assign(new Error('maildir delivery timed out'), { code: 'ETIMEDOUT' });
        // Stops a stalled body; a hung filesystem call cannot be cancelled, we just stop waiting.
        (body as Readable | null)?.destroy(err);
        reject(err);
      }, deadlineMs);
    });
    try {
      const name = await Promise.race([work, deadline]);
      log.debug({ qid: job.entry.qid, to: recipient, file: name }, 'maildir delivery done');
      return { recipient, status: 'delivered', dsn: '2.0.0', response: 'delivered to maildir', relay: RELAY };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      log.debug({ qid: job.entry.qid, to: recipient, code, err: (err as Error).message }, 'maildir delivery failed');
      if (PERMANENT.has(code)) {
        return { recipient, status: 'bounced', dsn: '5.1.1', response: `invalid mailbox name for ${recipient}: ${code}`, relay: RELAY };
      }
      // Only the code: the response can end up in a DSN, and fs messages carry local paths.
      const why = code === 'ETIMEDOUT' ? `timed out after ${deadlineMs} ms` : `failed: ${code || 'error reading the queued message'}`;
      return { recipient, status: 'deferred', dsn: '4.3.0', response: `maildir delivery ${why}`, relay: RELAY };
    } finally {
      clearTimeout(timer);
      work.catch(() => undefined);
    }
  };

  return {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome[]> {
      const route = job.route;
      if (route.kind !== 'maildir') return misrouted(job);
      const outcomes: DeliveryOutcome[] = [];
      for (const rcpt of job.recipients) outcomes.push(await deliverOne(job, route.path, rcpt));
      return outcomes;
    },
    async close() {
      // Nothing held open between deliveries.
    },
  };
}

/** <root>/<domain>/<local> for an address, or null when the address cannot safely name one. */
export function mailboxDir(root: string, recipient: string): string | null {
  const at = recipient.lastIndexOf('@');
  if (at <= 0 || at === recipient.length - 1) return null;
  const local = recipient.slice(0, at).toLowerCase().replace(/[/\\\0]/g, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  const domain = recipient.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (domain === '' || domain.startsWith('.') || /[/\\\0]/.test(domain)) return null;
  const base = resolve(root);
  const dir = resolve(base, domain, local);
  const rel = relative(base, dir);
  // Exactly two components below the root: anything else escaped or collapsed.
  if (rel === '' || isAbsolute(rel) || rel.startsWith('..') || rel.split(sep).length !== 2) return null;
  return dir;
}

/** CRLF → LF, also when a CR ends one chunk and its LF starts the next. */
class CrlfToLf extends Transform {
  #pendingCr = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = chunk;
    if (this.#pendingCr) {
      buf = Buffer.concat([Buffer.from('\r'), buf]);
      this.#pendingCr = false;
    }
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) {
      this.#pendingCr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    const out: Buffer[] = [];
    let start = 0;
    for (let i = buf.indexOf(0x0d); i !== -1; i = buf.indexOf(0x0d, i + 1)) {
      if (buf[i + 1] === 0x0a) {
        out.push(buf.subarray(start, i));
        start = i + 1;
      }
    }
    out.push(buf.subarray(start));
    cb(null, out.length === 1 ? out[0] : Buffer.concat(out));
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.#pendingCr ? Buffer.from('\r') : undefined);
  }
}
