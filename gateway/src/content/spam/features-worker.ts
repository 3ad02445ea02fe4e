/*
 * content/spam/features-worker.ts — a worker thread that runs spamscanner as a feature extractor.
 *
 * Loaded only by features.ts (new Worker). spamscanner 6.1.5 is contained here (issue 4,
 * libraries.md §4):
 * - no verdict: scan() is never called, so its isSpam, its broken classifier, its toxicity/NSFW
 *   models (downloaded from TF Hub) and its virus scan never run; only the detectors that work
 *   offline are called: its IDN/brand-lookalike detector on each link host (phishing, IDN
 *   homographs), executables, macros (attachments only: its text regexes match any
 *   "function f(" in a developer's mail);
 * - no network: isCloudflareBlocked (a DoH request to 1.1.1.3 per URL host) is replaced before
 *   first use (and getPhishingResults, its only caller, is not used), and the reputation,
 *   authentication, toxicity, NSFW and virus methods are replaced by ones that return nothing;
 * - no `.env`: its `natural` dependency calls dotenv.config() at import, which reads .env from
 *   the working directory into process.env; dotenv's config is replaced with a no-op in this
 *   thread's module cache before spamscanner is imported, and the thread runs with its own copy
 *   of the environment (features.ts) so nothing could leak into the gateway's anyway;
 * - bounded input: features.ts sends the decoded text and HTML (each at most 256 KiB, parse.ts)
 *   and the first 64 KiB of each attachment, of a message already parsed once (parse.ts);
 * - off the SMTP event loop: this is a worker thread; features.ts puts a deadline on each call.
 */
import { createRequire } from 'node:module';
import { domainToUnicode } from 'node:url';
import { parentPort } from 'node:worker_threads';

/** The parts of an already parsed message spamscanner's detectors look at (no second parse). */
export interface FeatureRequest {
  readonly id: number;
  readonly text: string;
  readonly html: string;
  /** Attachment names and their first bytes (magic numbers), never whole attachments. */
  readonly attachments: ReadonlyArray<{ readonly filename: string | null; readonly contentType: string; readonly head: Uint8Array }>;
}

export interface FeatureFinding {
  /** phishing | suspicious | idn | executable | macro */
  readonly kind: string;
  readonly detail: string;
}

export type FeatureReply = { readonly id: number; readonly findings: FeatureFinding[] } | { readonly id: number; readonly error: string } | { readonly ready: true };

// Before anything imports `natural`: make dotenv inert in this thread.
const require = createRequire(import.meta.url);
try {
  const natural = require.resolve('natural', { paths: [require.resolve('spamscanner')] });
  const dotenv = createRequire(natural)('dotenv') as { config: unknown; configDotenv: unknown };
  dotenv.config = () => ({ parsed: {} });
  dotenv.configDotenv = () => ({ parsed: {} });
} catch {
  // natural or dotenv not where we expect: the thread's env is a private copy anyway.
}

type Scanner = Record<string, (...args: unknown[]) => Promise<unknown>>;

const { default: SpamScanner } = await import('spamscanner') as unknown as { default: new (config: object) => Scanner };
const silent = { info() {}, warn() {}, error() {}, debug() {}, log() {} };
const scanner = new SpamScanner({ logger: silent, debug: false, enableReputation: false, enableAuthentication: false });
scanner['isCloudflareBlocked'] = async () => false;
scanner['getReputationResults'] = async () => null;
scanner['getAuthenticationResults'] = async () => null;
scanner['getToxicityResults'] = async () => [];
scanner['getNSFWResults'] = async () => [];
scanner['getVirusResults'] = async () => [];

async function extract(req: FeatureRequest): Promise<FeatureFinding[]> {
  // mailparser's shape, as far as these detectors read it.
  const attachments = req.attachments.map((a) => ({ filename: a.filename ?? undefined, contentType: a.contentType, content: Buffer.from(a.head.buffer, a.head.byteOffset, a.head.byteLength) }));
  const mail = { text: req.text, html: req.html, headerLines: [], attachments };
  const attachmentsOnly = { text: '', html: '', headerLines: [], attachments };
  // Phishing and IDN homographs: spamscanner's own detector (its EnhancedIDNDetector), called
  // once per link host (at most 20) with the host decoded from punycode. Its getPhishingResults
  // would pass the punycode form (xn--…), which the detector scores 0, and analyse the whole
  // text once per URL (30–40 ms a message on spam-2); and it would do the DoH lookup.
  const hosts = new Set<string>();
  for (const u of (scanner['getUrls'] as unknown as (t: string) => string[])(`${req.text}\n${req.html}`)) {
    const host = /^(?:[a-z]+:\/\/)?([^/:?#\s]+)/i.exec(u)?.[1]?.toLowerCase();
    if (host && hosts.size < 20) hosts.add(host);
  }
  const detector = hosts.size > 0 ? await scanner['getIDNDetector']!() as { detectHomographAttack(d: string, ctx: object): { riskScore: number; riskFactors: string[] } } | null : null;
  const [executables, macros] = await Promise.all([
    scanner['getExecutableResults']!(mail) as Promise<Array<{ type: string; filename?: string; extension?: string; detectedType?: string }>>,
    scanner['getMacroResults']!(attachmentsOnly) as Promise<Array<{ type: string; subtype?: string; filename?: string }>>,
  ]);
  const out: FeatureFinding[] = [];
  if (detector) {
    for (const host of hosts) {
      const unicode = domainToUnicode(host) || host;
      const r = detector.detectHomographAttack(unicode, { emailContent: '', displayText: null, senderReputation: 0.5 });
      const detail = `${unicode}${unicode !== host ? ` (${host})` : ''} risk ${r.riskScore.toFixed(2)}: ${r.riskFactors.slice(0, 2).join('; ')}`;
      if (r.riskScore > 0.6) out.push({ kind: /[^\x00-\x7f]/.test(unicode) ? 'idn' : 'phishing', detail });
      else if (r.riskScore > 0.3) out.push({ kind: 'suspicious', detail });
    }
  }
  for (const e of executables) if (e.type === 'executable') out.push({ kind: 'executable', detail: e.filename ?? e.detectedType ?? 'unknown' });
  for (const m of macros) if (m.filename) out.push({ kind: 'macro', detail: `${m.filename} (${m.subtype ?? 'macro'})` });
  return out;
}

parentPort!.on('message', (req: FeatureRequest) => {
  extract(req).then(
    (findings) => parentPort!.postMessage({ id: req.id, findings } satisfies FeatureReply),
    (err: unknown) => parentPort!.postMessage({ id: req.id, error: (err as Error).message } satisfies FeatureReply),
  );
});
parentPort!.postMessage({ ready: true } satisfies FeatureReply);
