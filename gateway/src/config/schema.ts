/*
 * config/schema.ts — the gateway's whole configuration as one strict zod schema.
 *
 * Defaults live here and only here (house style §5); each has a unit in its name and a why.
 * The defaults *are* the embedded development config (ARCHITECTURE "Embedded defaults"): an
 * empty file, or no file, gives mx on 127.0.0.1:2525, submission on 127.0.0.1:2587, state under
 * ./var and example.test delivered to ./var/mail. Production values come from
 * /etc/tuxhat/gateway.yaml (appliance/etc/gateway.yaml). Every object is .strict(): an unknown
 * key is an error, never silently ignored.
 */
import { z } from 'zod';
import { isIP } from 'node:net';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'expected host or host:port');
/** An IP address or CIDR network (also used by the appliance settings). */
export const cidr = z.string().refine((s) => {
  const [ip, bits, extra] = s.split('/');
  if (extra !== undefined || !ip || !isIP(ip)) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (isIP(ip) === 4 ? 32 : 128);
}, 'expected an IP address or CIDR, e.g. 10.0.0.0/8');
const domainName = z.string().toLowerCase().regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a domain name');
const tlsPolicy = z.enum(['none', 'may', 'encrypt', 'verify']);

/** Spam thresholds of one direction of a class of service; null never triggers. */
function spamThresholds(d: { tag: number | null; quarantine: number | null; reject: number | null }) {
  return z.object({
    tag: z.number().nullable().default(d.tag),
    quarantine: z.number().nullable().default(d.quarantine),
    reject: z.number().nullable().default(d.reject),
    /** Prepended to the Subject of tagged and quarantined mail, e.g. "[SPAM] "; empty: the subject is left alone. */
    subjectTag: z.string().max(40).default(''),
  }).strict();
}

const tlsFiles = z.object({
  /** PEM key and certificate; without them a self-signed pair is generated under state (with a warning). */
  keyFile: z.string().optional(),
  certFile: z.string().optional(),
  /** Extra certificates chosen by SNI name. */
  sni: z.record(z.string(), z.object({ keyFile: z.string(), certFile: z.string() }).strict()).default({}),
  /** TLS 1.2 is the floor: older versions are broken and no longer needed by real MTAs. */
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** CA bundle for verifying client certificates on relay listeners. */
  clientCaFile: z.string().optional(),
}).strict();

const listener = z.object({
  kind: z.enum(['mx', 'submission', 'relay']),
  address: z.string().refine((s) => isIP(s) !== 0, 'expected an IP address').default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  /** starttls: offered (587/25); implicit: TLS from the first byte (465); none: plain only (tests). */
  tls: z.enum(['starttls', 'implicit', 'none']).default('starttls'),
  /** This listener's own certificate (PEM files); without them the global tls.keyFile/certFile. */
  keyFile: z.string().optional(),
  certFile: z.string().optional(),
  /** Refuse MAIL FROM until STARTTLS; submission always requires it before AUTH anyway. */
  requireTls: z.boolean().default(false),
  /** relay: trusted by these networks (weakest trust; prefer AUTH or client certificates). */
  trustedNetworks: z.array(cidr).default([]),
  /** relay: trust clients whose certificate verifies against tls.clientCaFile. */
  trustClientCert: z.boolean().default(false),
  /** Allow AUTH on a plaintext connection (only for loopback test setups). */
  allowInsecureAuth: z.boolean().default(false),
  /** 25 MiB like Postfix's 10 MB default raised to what users attach today. */
  maxMessageBytes: z.number().int().positive().default(25 * 1024 * 1024),
  /** RFC 5321 §4.5.3.1.8 requires at least 100. */
  maxRecipients: z.number().int().min(1).default(100),
  maxConnections: z.number().int().min(1).default(1000),
  maxConnectionsPerIp: z.number().int().min(1).default(50),
  /** Idle time between commands; RFC 5321 §4.5.3.2.7 suggests 5 minutes, 60 s is kinder to the box. */
  idleTimeoutMs: z.number().int().min(1000).default(60_000),
  /** How long running sessions may finish after shutdown starts before they get 421. */
  closeTimeoutMs: z.number().int().min(0).default(30_000),
  /** Greeting text after "220 <hostname> ESMTP". */
  banner: z.string().default('TuxHat'),
  /** Wait before the 220 greeting; a client that talks first gets 421. 0 = greet at once. */
  greetDelayMs: z.number().int().min(0).max(30_000).default(0),
}).strict().superRefine((l, ctx) => {
  if (Boolean(l.keyFile) !== Boolean(l.certFile)) {
    ctx.addIssue({ code: 'custom', path: [l.keyFile ? 'certFile' : 'keyFile'], message: 'keyFile and certFile go together' });
  }
  if (l.kind === 'submission' && l.tls === 'none' && !l.allowInsecureAuth) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'a submission listener without TLS can never authenticate anyone: use starttls or implicit (or allowInsecureAuth for a lab)' });
  }
});

const route = z.discriminatedUnion('transport', [
  z.object({
    transport: z.literal('smtp'),
    /** Next hops in order; the next is tried when one is down (failover). */
    hosts: z.array(hostPort).min(1),
    tls: tlsPolicy.default('may'),
    auth: z.object({ user: z.string(), passwordFile: z.string() }).strict().optional(),
  }).strict(),
  z.object({
    transport: z.literal('maildir'),
    /** Mail for user@domain goes to <path>/<domain>/<user>/{tmp,new,cur}. */
    path: z.string(),
  }).strict(),
]);

const domain = z.object({ route }).strict();

const retry = z.object({
  /** Waits between attempts; the last one repeats. Close to Postfix (5 min doubling to 67 min, 4000 s cap). */
  scheduleMs: z.array(z.number().int().positive()).min(1).default([60_000, 300_000, 600_000, 1_200_000, 2_400_000, 4_000_000]),
  /** Postfix maximal_queue_lifetime: 5 days, then bounce with a DSN. */
  maxLifetimeMs: z.number().int().positive().default(5 * 24 * 3600_000),
  /** Send a delay warning DSN after this long (0 = never, Postfix's default). */
  delayWarningMs: z.number().int().min(0).default(0),
  /** How long `tuxhat trace` keeps a message's story after it arrived: 30 days, like quarantine. */
  traceRetentionMs: z.number().int().min(3600_000).default(30 * 24 * 3600_000),
}).strict();

export const configSchema = z.object({
  /** Our name in the banner, Received headers and DSNs. */
  hostname: z.string().min(1).default('localhost'),
  /** Where mail to a bare "postmaster" (RFC 5321 §4.5.1) and gateway alerts go. */
  postmaster: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address').default('postmaster@example.test'),
  /** Receiver worker processes; 0 = one per core. */
  workers: z.number().int().min(0).max(64).default(0),
  paths: z.object({
    /** LMDB environments and generated keys. */
    state: z.string().default('./var/lib'),
    /** Message bodies; may be its own filesystem. */
    spool: z.string().default('./var/spool'),
    /** Admin socket directory and pid files. */
    run: z.string().default('./var/run'),
  }).strict().prefault({}),
  tls: tlsFiles.prefault({}),
  /** Local AUTH users: a YAML map of address → scrypt hash (`tuxhat user add`). */
  usersFile: z.string().optional(),
  listeners: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'listener names are lower-case words'), listener).prefault({
    mx: { kind: 'mx', port: 2525 },
    submission: { kind: 'submission', port: 2587 },
  }),
  /** The domains we accept mail for on mx, each with its route to the internal servers. */
  domains: z.record(domainName, domain).prefault({
    'example.test': { route: { transport: 'maildir', path: './var/mail' } },
  }),
  outbound: z.object({
    /** mx: deliver to the internet by MX lookup; smarthost: hand everything to `hosts`. */
    mode: z.enum(['mx', 'smarthost']).default('mx'),
    hosts: z.array(hostPort).default([]),
    /** Opportunistic TLS by default, like every MTA on the internet (RFC 3207 §4). */
    tls: tlsPolicy.default('may'),
    /** Per-domain TLS policy overrides (e.g. partner.example: verify). */
    tlsPolicy: z.record(domainName, tlsPolicy).default({}),
    /** Remote port for MX delivery. Always 25 on the internet; other values are for lab setups. */
    mxPort: z.number().int().min(1).max(65535).default(25),
  }).strict().prefault({}),
  delivery: z.object({
    /** Total concurrent outgoing SMTP sessions. */
    maxConnections: z.number().int().min(1).default(100),
    /** Concurrent sessions per destination (next hop or MX domain), like Postfix's 20. */
    maxConnectionsPerDestination: z.number().int().min(1).default(20),
    connectTimeoutMs: z.number().int().min(100).default(30_000),
    greetingTimeoutMs: z.number().int().min(100).default(30_000),
    /** Per command/data stall, not the whole transfer. */
    socketTimeoutMs: z.number().int().min(100).default(300_000),
    /** How often the scheduler looks for due entries besides being told of new mail. */
    scanIntervalMs: z.number().int().min(50).default(1000),
  }).strict().prefault({}),
  queue: retry.prefault({}),
  dns: z.object({
    /** Empty: the system resolver's servers (/etc/resolv.conf). Tests use 127.0.0.1:PORT. */
    servers: z.array(hostPort).default([]),
    timeoutMs: z.number().int().min(50).default(3000),
    tries: z.number().int().min(1).default(2),
    cacheMaxEntries: z.number().int().min(0).default(50_000),
    /** Cap on positive TTLs and the TTL for negative answers (RFC 2308 suggests SOA minimum; we keep it simple). */
    maxTtlSeconds: z.number().int().min(0).default(3600),
    negativeTtlSeconds: z.number().int().min(0).default(300),
  }).strict().prefault({}),
  authentication: z.object({
    /** SPF, DKIM, DMARC and ARC verification of inbound (mx) mail: on, it is why an edge gateway exists. */
    enabled: z.boolean().default(true),
    /**
     * What a DMARC fail with p=reject (after pct) gets: 'reject' answers 550 5.7.1 in the session
     * (no backscatter, the sender learns at once); 'tag' delivers with X-TuxHat-DMARC: reject.
     */
    dmarcReject: z.enum(['reject', 'tag']).default('reject'),
    overrides: z.object({
      /**
       * Forwarders and mailing lists whose mail is never DMARC-rejected: CIDRs match the client
       * address; domains match an SPF-pass envelope domain or a DKIM-pass signing domain (and
       * their subdomains), never the unverified HELO. Empty: nobody is special.
       */
      trustedForwarders: z.array(z.union([cidr, domainName])).default([]),
      /** ARC sealers (d= of the newest ARC set) whose passing chain suspends DMARC enforcement. */
      trustedArcSealers: z.array(domainName).default([]),
    }).strict().prefault({}),
  }).strict().prefault({}),
  dkim: z.object({
    /**
     * Sign outbound mail (submission and relay listeners) with DKIM. On by default: a domain
     * without a key is delivered unsigned anyway, and receivers increasingly want DKIM for DMARC.
     */
    enabled: z.boolean().default(true),
    /** `<domain>/<selector>.key` PEM files (`tuxhat dkim keygen`); unset: `<paths.state>/dkim`, next to the other generated keys. */
    keysDir: z.string().optional(),
    /** 'from': the From header's domain, which DMARC aligns with; 'envelope': the MAIL FROM domain. */
    signBy: z.enum(['from', 'envelope']).default('from'),
    /**
     * Active selectors per domain (RSA and Ed25519 ones sign side by side). Empty: every key in
     * keysDir is active, so keygen plus a reload is all it takes.
     */
    domains: z.record(domainName, z.object({ selectors: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected a selector (DNS label)')).min(1) }).strict()).default({}),
    /**
     * A signing failure (bad key, I/O error) answers 451 4.3.0 so the client retries: mail that
     * should be signed and is not may fail DMARC at the receiver. true delivers it unsigned instead.
     */
    unsignedOnError: z.boolean().default(false),
  }).strict().prefault({}),
  admin: z.object({
    /** Unix socket for the CLI and the console menu; relative to the working directory. */
    socket: z.string().default('./var/run/tuxhat.sock'),
  }).strict().prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  }).strict().prefault({}),
  /** Spam scoring (issue 4): Bayes, heuristics, spamscanner features. Thresholds live in `classes`. */
  spam: z.object({
    /** Score inbound and outbound mail; off: no spam symbols, no X-Spam headers, nothing rejected as spam. */
    enabled: z.boolean().default(true),
    /** Only the first bytes of a message are scored (the text that decides is near the top); 1 MiB. */
    maxBytes: z.number().int().min(64 * 1024).default(1024 * 1024),
    /** The whole spam check's deadline; missing it answers 451 4.3.0 (never passed unscanned). */
    timeoutMs: z.number().int().min(100).default(15_000),
    bayes: z.object({
      /** Bayes symbols only once a scope has learned at least this many spam and this many ham. */
      minLearned: z.number().int().min(1).default(50),
      /** A recipient domain with its own training (both classes ≥ minLearned) is scored with its own counts. */
      perDomain: z.boolean().default(true),
      /**
       * Learn confident verdicts automatically: spam at a check score ≥ spamAtOrAbove, ham at
       * ≤ hamAtOrBelow. Off by default: a model that teaches itself can drift.
       */
      autoLearn: z.object({
        enabled: z.boolean().default(false),
        spamAtOrAbove: z.number().default(12),
        hamAtOrBelow: z.number().default(-3),
      }).strict().prefault({}),
    }).strict().prefault({}),
    /**
     * SpamAssassin's header/body/uri/meta rules, translated to data (rules/spamassassin/rules.yaml),
     * with SpamAssassin's scores; symbols SA_<RULE>. See docs/spam.md.
     */
    spamassassinRules: z.boolean().default(true),
    /** spamscanner as a feature extractor (phishing, IDN homographs, executables, macros) in worker threads. */
    features: z.object({
      enabled: z.boolean().default(true),
      /** Threads per receiver process; each costs ~180 MB once spamscanner is loaded. */
      threads: z.number().int().min(1).max(8).default(1),
      /** Per message; a thread that misses it is replaced and the message is scored without features. */
      timeoutMs: z.number().int().min(50).default(3000),
    }).strict().prefault({}),
  }).strict().prefault({}),
  /**
   * Classes of service: named sets of spam thresholds per direction, chosen by recipient user or
   * domain (inbound) or sender user or domain (outbound); `default` applies to everyone else
   * (verdict/class-of-service.ts). A threshold of null never triggers.
   */
  classes: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected a class name (lower case)'), z.object({
    /** Domains whose users get this class (a user listed in another class wins). */
    domains: z.array(domainName).default([]),
    /** Addresses that get this class. */
    users: z.array(z.string().toLowerCase().regex(/^[^@\s]+@[^@\s]+$/, 'expected user@domain')).default([]),
    /** SpamAssassin's customary 5 tags; 10 is clearly spam but worth a look; 15 is certain (GTUBE scores 1000). */
    inbound: spamThresholds({ tag: 5, quarantine: 10, reject: 15 }).prefault({}),
    /** Our own users' mail: never tagged for the world to see; held at 8, refused at 15. */
    outbound: spamThresholds({ tag: null, quarantine: 8, reject: 15 }).prefault({}),
  }).strict()).default({ default: { domains: [], users: [], inbound: { tag: 5, quarantine: 10, reject: 15, subjectTag: '' }, outbound: { tag: null, quarantine: 8, reject: 15, subjectTag: '' } } })
    .refine((c) => 'default' in c, 'classes needs a class named default'),
}).strict().superRefine((c, ctx) => {
  const seen = new Map<string, string>();
  for (const [name, l] of Object.entries(c.listeners)) {
    const at = `${l.address}:${l.port}`;
    const other = seen.get(at);
    if (other) ctx.addIssue({ code: 'custom', path: ['listeners', name, 'port'], message: `${at} is already used by listener ${other}` });
    seen.set(at, name);
  }
  if (Boolean(c.tls.keyFile) !== Boolean(c.tls.certFile)) {
    ctx.addIssue({ code: 'custom', path: ['tls', c.tls.keyFile ? 'certFile' : 'keyFile'], message: 'keyFile and certFile go together' });
  }
  if (c.outbound.mode === 'smarthost' && c.outbound.hosts.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['outbound', 'hosts'], message: 'smarthost mode needs at least one host' });
  }
});

export type Config = z.output<typeof configSchema>;
export type ListenerConfig = z.output<typeof listener>;
export type RouteConfig = z.output<typeof route>;
export type TlsPolicy = z.output<typeof tlsPolicy>;
