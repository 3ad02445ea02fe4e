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
import { policySchema } from '../policy/config.js';

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

/** What to do with a virus and with a message clamd could not scan; per direction overrides the global. */
const antivirusAction = z.object({
  /** reject: 554 5.7.1 in the session (no backscatter); quarantine: keep it for the postmaster (250). */
  onVirus: z.enum(['reject', 'quarantine']).optional(),
  /** defer: 451 4.7.1, the sender retries (fail safe); pass: deliver with X-TuxHat-Virus-Scan: unscanned. */
  onUnscanned: z.enum(['defer', 'pass']).optional(),
}).strict();

const antivirusConfig = z.object({
  /**
   * auto: scan when clamd's socket exists at start (or host is set), otherwise say clearly in
   * the log that antivirus is off; true: always scan (clamd down → 451); false: never scan.
   */
  enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** clamd's unix socket (Debian's and the appliance's path); used unless host is set. */
  socket: z.string().default('/run/clamav/clamd.ctl'),
  /** clamd over TCP (TCPAddr/TCPSocket) instead of the unix socket. */
  host: z.string().optional(),
  port: z.number().int().min(1).max(65535).default(3310),
  /** Our deadline around every scan: clamd scans a 4 MB message in ~0.1 s, archives take longer. */
  timeoutMs: z.number().int().min(100).default(30_000),
  /**
   * Larger messages are not sent to clamd (they would hit its StreamMaxLength: EPIPE) and count
   * as not scanned. Unset: the largest listener maxMessageBytes plus 64 KiB for our headers;
   * keep clamd's StreamMaxLength above it (appliance: 26M).
   */
  maxBytes: z.number().int().positive().optional(),
  /** Scans in flight per receiver process; clamd's MaxThreads is 10 by default. */
  maxConcurrent: z.number().int().min(1).max(64).default(4),
  onVirus: z.enum(['reject', 'quarantine']).default('reject'),
  onUnscanned: z.enum(['defer', 'pass']).default('defer'),
  inbound: antivirusAction.prefault({}),
  outbound: antivirusAction.prefault({}),
  /** An outbound virus (an internal sender is infected) also mails config.postmaster; the log line is always written. */
  alertPostmaster: z.boolean().default(true),
}).strict();

/** One rate window: at most this many messages / recipients / bytes per windowMs. */
const rateWindow = z.object({
  windowMs: z.number().int().min(1000),
  messages: z.number().int().min(0).optional(),
  recipients: z.number().int().min(0).optional(),
  bytes: z.number().int().min(0).optional(),
}).strict().refine((w) => w.messages !== undefined || w.recipients !== undefined || w.bytes !== undefined, 'a window needs messages, recipients or bytes');
const rateKeys = z.object({
  clientIp: z.array(rateWindow).default([]),
  sender: z.array(rateWindow).default([]),
  senderDomain: z.array(rateWindow).default([]),
  user: z.array(rateWindow).default([]),
}).strict();

const reputationSchema = z.object({
  /** Learn from every inbound verdict and session reject, and score what was learnt. */
  enabled: z.boolean().default(true),
  /** Counts halve every 7 days: a network that cleaned up is forgiven within weeks. */
  halfLifeMs: z.number().int().min(60_000).default(7 * 24 * 3600_000),
  /** Client networks share a reputation: /24 and /64, the usual allocation to one sender. */
  ipv4Prefix: z.number().int().min(8).max(32).default(24),
  ipv6Prefix: z.number().int().min(16).max(128).default(64),
  /** Fewer (decayed) events than this: unknown, no symbol. */
  minSamples: z.number().min(1).default(5),
  /** Share of bad events (spam, virus ×2, reject and auth failure ×½) at or under which it is good… */
  goodBelow: z.number().min(0).max(1).default(0.1),
  /** …and at or over which it is bad. */
  badAbove: z.number().min(0).max(1).default(0.5),
  /** A delivered message scoring this much (without reputation symbols) counts as spam, else ham. */
  spamScore: z.number().default(6),
}).strict();

const greylistingSchema = z.object({
  /** Greylist only the doubtful (never authenticated, outbound, good-reputation or DMARC-aligned mail). */
  enabled: z.boolean().default(true),
  /** postgrey's 5 minutes: real MTAs retry after 5–30 minutes, spam cannons mostly never. */
  delayMs: z.number().int().min(0).default(300_000),
  /** How long after the delay a retry is still recognised (then it starts over). */
  retryWindowMs: z.number().int().min(1000).default(2 * 24 * 3600_000),
  /** A triplet that passed stays known this long after its last use (postgrey max-age 35 days). */
  lifetimeMs: z.number().int().min(60_000).default(36 * 24 * 3600_000),
  ipv4Prefix: z.number().int().min(8).max(32).default(24),
  ipv6Prefix: z.number().int().min(16).max(128).default(64),
  /** At RCPT: greylist clients of bad reputation ('bad'), also unknown ones ('unknown'), or nobody. */
  atRcpt: z.enum(['off', 'bad', 'unknown']).default('bad'),
  /** After DATA: greylist mail scoring at least this much (rspamd's greylist action is 4). */
  dataScore: z.number().default(4),
  /** Clients never greylisted (e.g. partners' outbound servers). */
  skipClients: z.array(cidr).default([]),
}).strict();

const rateLimitsSchema = z.object({
  /** Inbound (mx) over a limit: 450 4.7.1 at MAIL (messages), RCPT (recipients) or after DATA (bytes). */
  inbound: rateKeys.prefault({}),
  /** Outbound (submission, relay) over a limit: accepted, put on hold, postmaster alerted. */
  outbound: rateKeys.prefault({}),
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
    /**
     * What a DMARC fail with p=quarantine (after pct) gets: 'tag' delivers with
     * X-TuxHat-DMARC: quarantine (the mailbox files it as junk); 'quarantine' keeps it in the
     * gateway's quarantine for the postmaster.
     */
    dmarcQuarantine: z.enum(['tag', 'quarantine']).default('tag'),
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
    /**
     * Refuse an SPF fail (-all) already at MAIL FROM with 550 5.7.23, as Postfix's policyd-spf;
     * temperror there is 451 4.7.0. Off: SPF is judged after DATA with DKIM and DMARC, so
     * forwarders and ARC can still rescue the message.
     */
    earlySpfReject: z.boolean().default(false),
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
    domains: z.record(domainName, z.object({
      selectors: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected a selector (DNS label)')).min(1),
      /** Rotation: selectors published and DNS-checked before they become active; they never sign. */
      next: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected a selector (DNS label)')).default([]),
    }).strict()).default({}),
    /**
     * A signing failure (bad key, I/O error) answers 451 4.3.0 so the client retries: mail that
     * should be signed and is not may fail DMARC at the receiver. true delivers it unsigned instead.
     */
    unsignedOnError: z.boolean().default(false),
    /**
     * Before signing, check that each key's selector record in DNS holds our public key (at start,
     * then when the last check is older than intervalMs). A missing or different record is logged
     * as an error; onBadRecord 'refuse' does not sign with that key (no usable key left: as a
     * signing failure, see unsignedOnError), 'sign' signs anyway. A DNS failure keeps the last state.
     */
    dnsCheck: z.object({
      enabled: z.boolean().default(true),
      intervalMs: z.number().int().min(60_000).default(3_600_000),
      onBadRecord: z.enum(['refuse', 'sign']).default('refuse'),
    }).strict().prefault({}),
  }).strict().prefault({}),
  arc: z.object({
    /**
     * ARC-seal (RFC 8617) inbound mail we modified (our Authentication-Results at least), so the
     * next hop can trust our authentication results when it lists us as a trusted ARC sealer.
     */
    seal: z.boolean().default(false),
    /** d= of our seals; its `<selector>._domainkey` record must publish the key. */
    domain: domainName.optional(),
    selector: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected a selector (DNS label)').optional(),
    /** RSA private key (PEM); unset: the DKIM key `<dkim.keysDir>/<domain>/<selector>.key`. */
    keyFile: z.string().optional(),
  }).strict().prefault({}),
  admin: z.object({
    /** Unix socket for the CLI and the console menu; relative to the working directory. */
    socket: z.string().default('./var/run/tuxhat.sock'),
  }).strict().prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  }).strict().prefault({}),
  antivirus: antivirusConfig.prefault({}),
  quarantine: z.object({
    /** Message bodies in quarantine; unset: `<paths.spool>/quarantine`. */
    dir: z.string().optional(),
    /** How long a quarantined message is kept before the sweep removes it (30 days). */
    retentionMs: z.number().int().min(3600_000).default(30 * 24 * 3600_000),
    /** How often the primary sweeps expired entries. */
    sweepIntervalMs: z.number().int().min(1000).default(3600_000),
  }).strict().prefault({}),
  /** Session policy: access lists, DNSBL/DNSWL, protocol hygiene, recipient/sender verification (policy/config.ts). */
  policy: policySchema.prefault({}),
  /** The rules engine (rules/, docs/rules.md). */
  rules: z.object({
    /**
     * Rule directories, read in order (a rule named like an earlier one replaces it). `builtin`
     * is the shipped rules/ (every folder but scores/ and spamassassin/); a missing directory is empty.
     */
    dirs: z.array(z.string().min(1)).default(['builtin', '/etc/tuxhat/rules']),
    /** Bodies larger than this are not parsed for body/attachment conditions (those rules are skipped, and say so). */
    maxParseBytes: z.number().int().min(1024).default(10 * 1024 * 1024),
    /**
     * Organisation-wide disclaimer on outbound mail, by sender domain (envelope sender, or the
     * From domain when the envelope sender is empty), added before DKIM signing.
     */
    disclaimers: z.record(domainName, z.object({ text: z.string().min(1), html: z.string().min(1).optional() }).strict()).default({}),
  }).strict().prefault({}),
  /**
   * Archive-all (journaling): every accepted message gets an extra recipient, delivered by its own
   * route (give the archive domain a maildir or smtp route under `domains`), without changing
   * delivery to the real recipients. Empty: no archive.
   */
  archive: z.object({
    inbound: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address').optional(),
    outbound: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address').optional(),
    /** Per organisation domain (recipient domain inbound, sender domain outbound). */
    domains: z.record(domainName, z.object({
      address: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address'),
      /** Only this direction (default both). */
      direction: z.enum(['inbound', 'outbound']).optional(),
    }).strict()).default({}),
  }).strict().prefault({}),
  /** Reputation, greylisting and rate limits (docs/reputation-greylisting-ratelimits.md). */
  reputation: reputationSchema.prefault({}),
  greylisting: greylistingSchema.prefault({}),
  rateLimits: rateLimitsSchema.prefault({}),
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
    /**
     * Whose Received headers the SpamAssassin rules and Bayes believe (SpamAssassin's
     * trusted_networks): relays at the top of the path in these networks (loopback always) or
     * authenticated are trusted, the first other one is where the message entered. Unset: private
     * addresses are trusted, as SpamAssassin infers. Set it when a relay of yours has a public
     * address, or a private address in front of the gateway is not yours (docs/spam.md).
     */
    trustedNetworks: z.array(cidr).optional(),
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
    /** Antivirus for this class's mail; unset: antivirus.<direction> / antivirus. */
    antivirus: z.object({
      onVirus: z.enum(['reject', 'quarantine']).optional(),
      onUnscanned: z.enum(['defer', 'pass']).optional(),
    }).strict().optional(),
    /** DMARC enforcement for this class's inbound mail; unset: authentication.dmarcReject / dmarcQuarantine. */
    dmarc: z.object({
      reject: z.enum(['reject', 'tag']).optional(),
      quarantine: z.enum(['tag', 'quarantine']).optional(),
    }).strict().optional(),
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
  if (c.arc.seal && (!c.arc.domain || !c.arc.selector)) {
    ctx.addIssue({ code: 'custom', path: ['arc', c.arc.domain ? 'selector' : 'domain'], message: 'arc.seal needs arc.domain and arc.selector' });
  }
  if (c.outbound.mode === 'smarthost' && c.outbound.hosts.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['outbound', 'hosts'], message: 'smarthost mode needs at least one host' });
  }
});

export type Config = z.output<typeof configSchema>;
export type ListenerConfig = z.output<typeof listener>;
export type RouteConfig = z.output<typeof route>;
export type TlsPolicy = z.output<typeof tlsPolicy>;
export type AntivirusConfig = z.output<typeof antivirusConfig>;
