/*
 * content/checks/antivirus.ts — ClamAV: stream the spooled message to clamd (clamscan, INSTREAM).
 *
 * Input: the spooled message (our Received header first; clamd decodes MIME and archives itself,
 * ScanMail is on by default). Output: AV_VIRUS (detail = clamd's signature name) or AV_UNSCANNED
 * (detail = why), and a tempfail AV_TEMPFAIL (451 4.7.1) when the message could not be scanned,
 * unless antivirus.onUnscanned (or its per-direction override) says `pass`, which prepends
 * X-TuxHat-Virus-Scan: unscanned instead. "Not scanned" is every answer that is not a clean or an
 * infected verdict: `isInfected: null` (clamd's read timeout, libraries.md §3), an error
 * (ECONNREFUSED, EPIPE past StreamMaxLength), our own deadline, or a message over maxBytes.
 * The check never picks the action: verdict/index.ts turns AV_VIRUS into 554 5.7.1 or
 * quarantine per config. One NodeClam instance per process (clamscan opens a socket per scan);
 * scans per process are bounded by maxConcurrent. Runs in receiver workers.
 * Trusts nothing in the message; never logs its content.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Config } from '../../config/index.js';
import type { Direction, HeaderEdit, Hit } from '../../core/index.js';
import type { CheckOutcome, ContentCheck, ContentContext } from '../index.js';
import { selectClass } from '../../verdict/class-of-service.js';

/** Every symbol this check emits; rules/scores/antivirus.yaml must score exactly these. */
export const ANTIVIRUS_SYMBOLS = [
  'AV_VIRUS', 'AV_UNSCANNED',
  // scanContent's name for this check throwing or missing its outer deadline (never expected:
  // run() catches everything and has its own, shorter deadline).
  'ANTIVIRUS_TEMPFAIL',
] as const;

/** Prepended when unscanned mail is passed (onUnscanned: pass); a forged one is always removed. */
export const AV_SCAN_HEADER = 'X-TuxHat-Virus-Scan';

type AvConfig = Config['antivirus'];

export interface ScanResult {
  readonly isInfected: boolean | null;
  readonly viruses: readonly string[];
  readonly resultString?: string;
}

/** What clamscan's NodeClam gives us (the package has no type declarations). */
interface NodeClamInstance {
  init(options: Record<string, unknown>): Promise<NodeClamInstance>;
  scanStream(stream: Readable): Promise<ScanResult>;
}

/** The scanner this process uses; tests replace it with setScanner(). */
export type Scanner = (body: Readable) => Promise<ScanResult>;

let scanner: { key: string; scan: Promise<Scanner> } | null = null;
let override: Scanner | null = null;

/** For unit tests: scan with this function instead of clamd (null restores clamd). */
export function setScanner(fn: Scanner | null): void {
  override = fn;
}

/** Whether antivirus is on for this config: 'auto' means clamd's socket exists (or host is set). */
export function antivirusActive(av: AvConfig): boolean {
  if (av.enabled === false) return false;
  if (av.enabled === true) return true;
  // Decided once per process (at its first message or start-up log line): clamd stopping later
  // removes its socket, and that must mean 451 (fail safe), not "antivirus off".
  const key = `${av.socket}\0${av.host ?? ''}`;
  let found = autoDecided.get(key);
  if (found === undefined) {
    found = Boolean(av.host) || (av.socket !== '' && existsSync(av.socket));
    autoDecided.set(key, found);
  }
  return found;
}
const autoDecided = new Map<string, boolean>();

/** Where clamd is, for log lines. */
export function clamdAddress(av: AvConfig): string {
  return av.host ? `${av.host}:${av.port}` : av.socket;
}

/** A one-line, start-up statement of the antivirus state (ARCHITECTURE "Embedded defaults"). */
export function antivirusStartupMessage(av: AvConfig): { active: boolean; message: string } {
  if (antivirusActive(av)) return { active: true, message: `antivirus on: clamd at ${clamdAddress(av)}` };
  if (av.enabled === false) return { active: false, message: 'antivirus is OFF (antivirus.enabled: false): mail is not scanned for viruses' };
  return { active: false, message: `antivirus is OFF: no clamd socket at ${av.socket} (antivirus.enabled: auto); mail is not scanned for viruses` };
}

/** The largest stream we send to clamd: maxBytes, else the listeners' largest size limit + 64 KiB. */
export function maxScanBytes(config: Config): number {
  if (config.antivirus.maxBytes !== undefined) return config.antivirus.maxBytes;
  const limits = Object.values(config.listeners).map((l) => l.maxMessageBytes);
  return Math.max(0, ...limits) + 64 * 1024;
}

/** What a class of service may set for antivirus (config classes.<name>.antivirus). */
export interface ClassAvPolicy { readonly onVirus?: 'reject' | 'quarantine' | undefined; readonly onUnscanned?: 'defer' | 'pass' | undefined }

/** The class of service's setting, else the per-direction one, else the global one. */
export function avPolicy(av: AvConfig, direction: Direction, cls?: ClassAvPolicy): { onVirus: 'reject' | 'quarantine'; onUnscanned: 'defer' | 'pass' } {
  const d = av[direction];
  return { onVirus: cls?.onVirus ?? d.onVirus ?? av.onVirus, onUnscanned: cls?.onUnscanned ?? d.onUnscanned ?? av.onUnscanned };
}

function clamdScanner(av: AvConfig): Promise<Scanner> {
  const key = JSON.stringify([av.socket, av.host, av.port, av.timeoutMs]);
  if (scanner?.key === key) return scanner.scan;
  const require = createRequire(import.meta.url);
  const NodeClam = require('clamscan') as new () => NodeClamInstance;
  const scan = new NodeClam().init({
    removeInfected: false,
    debugMode: false,
    preference: 'clamdscan',
    clamscan: { active: false },
    clamdscan: {
      // host set: TCP; otherwise the unix socket.
      ...(av.host ? { host: av.host, port: av.port } : { socket: av.socket }),
      // clamscan's timeout is a socket idle timeout, not a deadline; ours is in scan().
      timeout: av.timeoutMs,
      localFallback: false,
      // Start even when clamd is down now: each scan then fails (451) until it is back.
      bypassTest: true,
      active: true,
      // No clamdscan binary is needed or run for socket scans.
      path: '/nonexistent/clamdscan',
    },
  }).then((clam) => (body: Readable) => clam.scanStream(body));
  // A failed init is not cached: the next message tries again.
  scan.catch(() => { if (scanner?.scan === scan) scanner = null; });
  scanner = { key, scan };
  return scan;
}

/** A small semaphore: at most `limit` scans in flight in this process. */
class Gate {
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  async run<T>(limit: number, fn: () => Promise<T>): Promise<T> {
    if (this.#running >= limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}
const gate = new Gate();

export type ScanOutcome =
  | { readonly status: 'clean' }
  | { readonly status: 'infected'; readonly virus: string }
  | { readonly status: 'unscanned'; readonly reason: string };

/**
 * Scan one message with our own deadline. Never rejects: every failure is `unscanned` with a
 * reason. On the deadline the input stream is destroyed, which ends clamscan's socket.
 */
export async function scanMessage(config: Config, size: number, open: () => Readable): Promise<ScanOutcome> {
  const av = config.antivirus;
  const limit = maxScanBytes(config);
  if (size > limit) return { status: 'unscanned', reason: `message of ${size} bytes is over the scan limit of ${limit} bytes` };
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let body: Readable | null = null;
  const deadline = new Promise<ScanOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'unscanned', reason: `clamd did not answer within ${av.timeoutMs} ms` }), av.timeoutMs);
  });
  const work = gate.run(av.maxConcurrent, async (): Promise<ScanOutcome> => {
    const scan = override ?? await clamdScanner(av);
    const left = av.timeoutMs - (Date.now() - started);
    if (left <= 0) return { status: 'unscanned', reason: 'waited too long for a free scan slot' };
    body = open();
    const r = await scan(body);
    if (r.isInfected === true) return { status: 'infected', virus: r.viruses[0] ?? 'unknown' };
    if (r.isInfected === false) return { status: 'clean' };
    return { status: 'unscanned', reason: `clamd gave no verdict${r.resultString ? `: ${r.resultString.trim().slice(0, 200)}` : ''}` };
  }).catch((err: unknown): ScanOutcome => {
    const e = err as NodeJS.ErrnoException;
    return { status: 'unscanned', reason: `clamd: ${e.code ?? ''}${e.code ? ' ' : ''}${(e.message ?? String(err)).slice(0, 200)}` };
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    (body as Readable | null)?.destroy();
  }
}

/** scanMessage's outcome → hits, header edits and the tempfail (separate from run() for unit tests). */
export function evaluateScan(outcome: ScanOutcome, av: AvConfig, direction: Direction, score: (name: string) => number, cls?: ClassAvPolicy): CheckOutcome {
  const removeForged: HeaderEdit = { op: 'remove', name: AV_SCAN_HEADER };
  if (outcome.status === 'clean') return { hits: [], headerEdits: [removeForged] };
  if (outcome.status === 'infected') {
    return { hits: [{ name: 'AV_VIRUS', score: score('AV_VIRUS'), detail: outcome.virus }], headerEdits: [removeForged] };
  }
  const hit: Hit = { name: 'AV_UNSCANNED', score: score('AV_UNSCANNED'), detail: outcome.reason };
  if (avPolicy(av, direction, cls).onUnscanned === 'pass') {
    return { hits: [hit], headerEdits: [removeForged, { op: 'prepend', name: AV_SCAN_HEADER, value: `unscanned (${outcome.reason.replace(/[\r\n]+/g, ' ')})` }] };
  }
  return { hits: [hit], tempfail: 'AV_TEMPFAIL' };
}

/** The `av` field of the verdict log line: clean, infected (name), unscanned, or off. */
export function avLogValue(hits: readonly Hit[], config: Config): string {
  const virus = hits.find((h) => h.name === 'AV_VIRUS');
  if (virus) return `infected (${virus.detail ?? 'unknown'})`;
  if (hits.some((h) => h.name === 'AV_UNSCANNED' || h.name === 'ANTIVIRUS_TEMPFAIL')) return 'unscanned';
  return antivirusActive(config.antivirus) ? 'clean' : 'off';
}

export const antivirus: ContentCheck = {
  name: 'antivirus',
  // run() has its own deadline (antivirus.timeoutMs); this outer one only catches a bug.
  timeoutMs: 10 * 60_000,
  tempfailReply: 'AV_TEMPFAIL',
  async run(ctx: ContentContext): Promise<Hit[] | CheckOutcome> {
    const av = ctx.config.antivirus;
    if (!antivirusActive(av)) return [];
    const outcome = await scanMessage(ctx.config, ctx.message.size, ctx.message.openBody);
    // The class of service of the recipients (inbound) or sender (outbound) may pass unscanned mail.
    const cls = ctx.config.classes[selectClass(ctx.config.classes, ctx.session.direction, { recipients: ctx.envelope.recipients, sender: ctx.envelope.mailFrom, authUser: ctx.session.authUser }).name]?.antivirus;
    return evaluateScan(outcome, av, ctx.session.direction, (name) => ctx.scores.antivirus.score(name), cls);
  },
};
