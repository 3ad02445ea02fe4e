/*
 * policy/config.ts — the `policy:` section of the config (access lists, DNSBL/DNSWL, protocol
 * hygiene, recipient and sender verification). Appended to config/schema.ts as one block.
 *
 * Defaults are the embedded development config: everything that needs DNS or a peer is off, so
 * `npm start` without a network behaves as before; the hygiene limits are on (they cost nothing).
 * Strict like the rest of the schema. No import from config/ (schema.ts imports this file).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const cidrOrIp = z.string().refine((s) => {
  const [ip, bits, extra] = s.split('/');
  if (extra !== undefined || !ip || !isIP(ip)) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (isIP(ip) === 4 ? 32 : 128);
}, 'expected an IP address or CIDR, e.g. 10.0.0.0/8');

const domainName = z.string().toLowerCase().regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a domain name');

/** `/…/flags` is a regular expression; it must compile. */
const pattern = z.string().min(1).refine((s) => {
  const m = /^\/(.*)\/([imsu]*)$/s.exec(s);
  if (!m) return true;
  try {
    new RegExp(m[1]!, m[2]);
    return true;
  } catch {
    return false;
  }
}, 'the regular expression does not compile');

/**
 * One access-list entry. `match` syntax (docs/policy.md): clients: an IP, a CIDR, a PTR name,
 * `*.dyn.example.net` (any subdomain) or `/regex/i` on the PTR name; addresses: `user@example.com`,
 * `user@` (any domain), `example.com` (the domain), `*.example.com` (its subdomains) or `/regex/i`.
 */
export const accessEntrySchema = z.object({
  match: pattern,
  action: z.enum(['allow', 'deny', 'score']),
  /** For deny: appended to the 550 5.7.1 reply (no control characters). */
  reply: z.string().max(200).regex(/^[\x20-\x7e]*$/, 'printable ASCII only').optional(),
  /** For score: the symbol's score (default: ACCESS_SCORE's score in rules/scores/policy.yaml). */
  score: z.number().finite().optional(),
}).strict();
export type AccessEntry = z.output<typeof accessEntrySchema>;

export const accessListsSchema = z.object({
  /** Connecting clients (IP/CIDR, PTR name patterns). */
  clients: z.array(accessEntrySchema).default([]),
  /** Envelope senders (MAIL FROM). */
  senders: z.array(accessEntrySchema).default([]),
  /** Envelope recipients (RCPT TO). */
  recipients: z.array(accessEntrySchema).default([]),
}).strict();
export type AccessLists = z.output<typeof accessListsSchema>;

/** A list file: the same three levels as the config (YAML), merged after the config's entries. */
export const accessFileSchema = z.object({
  global: accessListsSchema.prefault({}),
  domains: z.record(domainName, accessListsSchema).default({}),
  users: z.record(z.string().toLowerCase().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address'), accessListsSchema).default({}),
}).strict();
export type AccessFile = z.output<typeof accessFileSchema>;

/** Postscreen-style `zone[=127.0.0.[2..11]][*weight]`; the weight may be negative (a DNSWL). */
export const DNSBL_SPEC = /^([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?:=((?:\d{1,3}|\[[\d.;]+\])(?:\.(?:\d{1,3}|\[[\d.;]+\])){3}))?(?:\*(-?\d+(?:\.\d+)?))?$/i;

const verifyDomain = z.object({
  /** static: only the addresses in `users`/`usersFile`; callout: ask the route's next hop. */
  method: z.enum(['static', 'callout']),
  /** Local parts or full addresses accepted by the static method. */
  users: z.array(z.string().toLowerCase()).default([]),
  /** One address or local part per line (# comments); read again on reload. */
  usersFile: z.string().optional(),
}).strict();

export const policySchema = z.object({
  access: accessFileSchema.extend({
    /** Extra list files, same layout as this section; read at start-up and on every reload. */
    files: z.array(z.string()).default([]),
  }).strict().prefault({}),
  dnsbl: z.object({
    /** e.g. `zen.spamhaus.org=127.0.0.[2..11]*3`, `list.dnswl.org=127.0.[0..255].[1..3]*-2`. Empty: off. */
    zones: z.array(z.string().regex(DNSBL_SPEC, 'expected zone[=a.b.c.d][*weight], e.g. bl.example=127.0.0.[2..11]*3')).default([]),
    /** Reject when the summed weight reaches this (postscreen_dnsbl_threshold); the sum is also a symbol. */
    threshold: z.number().default(1),
    /** connect: 554 before the greeting; rcpt: at the first RCPT, so per-domain/user allow entries can win. */
    rejectAt: z.enum(['connect', 'rcpt', 'never']).default('rcpt'),
    /** Per query; a zone that does not answer in time counts 0 (a slow list never defers mail). */
    timeoutMs: z.number().int().min(50).default(2000),
  }).strict().prefault({}),
  hygiene: z.object({
    /** Reverse DNS of the client: no PTR (RDNS_NONE) and a PTR that does not resolve back (RDNS_MISMATCH) score. */
    checkPtr: z.boolean().default(false),
    /** HELO that is not a hostname or address literal; `reject` answers 550 5.5.2 at MAIL FROM. */
    heloInvalid: z.enum(['reject', 'score', 'off']).default('score'),
    /** HELO with our own hostname or one of our addresses (a forgery). */
    heloOurs: z.enum(['reject', 'score', 'off']).default('score'),
    /** Reject DATA that contains a bare LF or CR (CVE-2023-51764 class SMTP smuggling). */
    rejectBareLf: z.boolean().default(true),
    /** Replies with 4xx/5xx after which the session is closed with 421 (Postfix smtpd_hard_error_limit). */
    maxErrors: z.number().int().min(1).default(20),
    /** Unknown commands after which the session is closed with 421 (smtp-server's own limit is 10). */
    maxUnknownCommands: z.number().int().min(1).max(10).default(10),
  }).strict().prefault({}),
  recipientVerification: z.object({
    /** Per relay domain; a domain not listed here is not verified (every local part accepted). */
    domains: z.record(domainName, verifyDomain).default({}),
    /** Callout: connect + whole dialogue deadline. */
    timeoutMs: z.number().int().min(100).default(10_000),
    /** Cache of callout answers, per receiver process. */
    positiveTtlMs: z.number().int().min(0).default(3_600_000),
    negativeTtlMs: z.number().int().min(0).default(600_000),
    cacheMaxEntries: z.number().int().min(0).default(100_000),
  }).strict().prefault({}),
  senderVerification: z.object({
    /** Refuse envelope senders whose domain has neither MX nor A/AAAA (550 5.1.8; 450 on DNS failure). Inbound only. */
    enabled: z.boolean().default(false),
    /**
     * Also ask the sender domain's MX whether it would take mail for the sender (RCPT TO probe
     * with MAIL FROM:<>): 550 5.1.7 when it says no, 450 4.1.7 when it cannot be asked. Costly
     * and seen as abusive by some sites: off unless the domain's mail is worth it.
     */
    callout: z.boolean().default(false),
    /** The port the callout connects to on the MX hosts (25; tests use another). */
    calloutPort: z.number().int().min(1).max(65535).default(25),
  }).strict().prefault({}),
}).strict().superRefine((p, ctx) => {
  // List files are part of the configuration: a missing or broken one refuses the start or the
  // reload (the old configuration keeps running), instead of failing sessions later.
  p.access.files.forEach((file, i) => {
    const problem = accessFileProblem(file);
    if (problem) ctx.addIssue({ code: 'custom', path: ['access', 'files', i], message: problem });
  });
  for (const [domain, d] of Object.entries(p.recipientVerification.domains)) {
    if (!d.usersFile) continue;
    try {
      readFileSync(d.usersFile, 'utf8');
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['recipientVerification', 'domains', domain, 'usersFile'], message: `cannot read ${d.usersFile}: ${(err as Error).message}` });
    }
  }
});

export type PolicyConfig = z.output<typeof policySchema>;

/** Why a list file cannot be used, or null (policy/access.ts reads it again with FILE:LINE errors). */
function accessFileProblem(file: string): string | null {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    return `${file}: ${(err as Error).message.split('\n')[0]}`;
  }
  const r = accessFileSchema.safeParse(doc);
  if (r.success) return null;
  return r.error.issues.map((i) => `${file}: ${i.path.join('.')}: ${i.message}`).join('; ');
}
