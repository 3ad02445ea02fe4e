/*
 * core/types.ts — the typed boundaries between pipeline stages (see ARCHITECTURE.md "Core types").
 *
 * Every stage takes and returns these; new per-message data gets a typed field here, never an
 * untyped bag, so the compiler sees every producer and consumer. No runtime code lives here.
 */

/** Which way a message flows; fixed by the listener it arrived on. */
export type Direction = 'inbound' | 'outbound';

/** The three listener kinds (ARCHITECTURE "The picture"). */
export type ListenerKind = 'mx' | 'submission' | 'relay';

/** One SMTP connection, as policy and content stages see it. Read-only to them. */
export interface Session {
  /** smtp-server's session id, logged as `sid`. */
  readonly id: string;
  readonly listener: string;
  readonly kind: ListenerKind;
  readonly direction: Direction;
  readonly clientIp: string;
  readonly clientPort: number;
  /** Verified reverse name, or null when there is none (or lookups are off). */
  readonly ptr: string | null;
  helo: string;
  /** TLS protocol and cipher when the session is encrypted, else null. */
  tls: { protocol: string; cipher: string } | null;
  /** Authenticated identity (AUTH user or client certificate subject), else null. */
  authUser: string | null;
  /** How a relay client earned trust: 'auth', 'cert', 'network' — null when it is not trusted. */
  trustedBy: 'auth' | 'cert' | 'network' | null;
}

/** The SMTP envelope of one transaction. */
export interface Envelope {
  /** Envelope sender; '' for the null sender <>. */
  mailFrom: string;
  recipients: string[];
  /** Declared SIZE= or, after DATA, the measured size in bytes. */
  size: number;
  bodyType: '7bit' | '8bitmime';
  smtpUtf8: boolean;
}

/** A named symbol with its score and detail (Rspamd's "symbol"; not called Symbol on purpose). */
export interface Hit {
  readonly name: string;
  readonly score: number;
  readonly detail?: string;
}

/** A session-time policy decision. `defer` answers 4xx, `reject` 5xx; the reply key is from core/replies. */
export type Decision =
  | { readonly action: 'accept'; readonly hits?: readonly Hit[] }
  | { readonly action: 'defer' | 'reject'; readonly reply: import('./replies.js').ReplyKey; readonly detail?: string; readonly hits?: readonly Hit[] };

/**
 * A header edit the verdict asks for; applied when the message is streamed out. A 'remove'
 * without `match` drops every field of that name; with `match.authservId` only the
 * Authentication-Results-style fields whose authserv-id equals it (RFC 8601 §5: forged results
 * claiming to be ours), compared without case.
 */
export type HeaderEdit =
  | { readonly op: 'prepend'; readonly name: string; readonly value: string }
  | { readonly op: 'remove'; readonly name: string; readonly match?: { readonly authservId: string } };

/**
 * What sender authentication (content/checks/authentication.ts) concluded, for the verdict and
 * the log. `dmarcPolicy` is the DMARC policy still to apply after pct sampling (RFC 7489 §6.6.4)
 * and the local overrides: null when there is nothing to enforce (pass, none, p=none, overridden).
 */
export interface AuthenticationOutcome {
  /** Result words as in Authentication-Results: pass, fail, softfail, none, temperror, ... */
  readonly spf: string;
  /** One word per signature, comma-separated ('pass,fail'), or 'none'. */
  readonly dkim: string;
  readonly dmarc: string;
  readonly arc: string;
  /** The RFC5322.From domain DMARC evaluated, or null. */
  readonly fromDomain: string | null;
  readonly dmarcPolicy: 'reject' | 'quarantine' | null;
}

/** The parsed message handed to the content stage. The spool file is immutable after DATA. */
export interface Message {
  readonly qid: string;
  readonly size: number;
  /** The spooled message (our Received header first), for checks that need the raw bytes. */
  readonly openBody: () => import('node:stream').Readable;
  /** Header lines as received (unfolded names, raw values), in order. */
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly messageId: string | null;
  /** Headers the gateway itself adds (e.g. Received), prepended on delivery. */
  readonly addedHeaders: readonly HeaderEdit[];
}

export type VerdictAction = 'deliver' | 'tag' | 'quarantine' | 'reject' | 'defer' | 'discard';

export interface Verdict {
  readonly action: VerdictAction;
  readonly score: number;
  readonly hits: readonly Hit[];
  /** For reject/defer: the reply key to render. */
  readonly reply?: import('./replies.js').ReplyKey;
  /** For reject/defer: detail appended to the reply text (e.g. the DMARC domain). */
  readonly detail?: string;
  readonly headerEdits: readonly HeaderEdit[];
  readonly extraRecipients: readonly string[];
  /** Rules that matched (rules/), in evaluation order, with the actions they contributed. */
  readonly rules?: readonly RuleHit[];
  /**
   * Body rewrites (disclaimer, attachment stripping) to apply before DKIM signing; the rewritten
   * body is spooled (and fsync'd) in place of the original before the 250.
   */
  readonly bodyTransforms?: readonly BodyTransform[];
  /**
   * Hand-off to the quarantine store: a rule stripped attachments and the unmodified original
   * must be kept there (the stored copy is the spooled original, before any body transform).
   */
  readonly quarantineOriginal?: QuarantineOriginalRequest;
  /** The class of service a rule selected (verdict/class-of-service.ts names the classes). */
  readonly classOfService?: string;
  /** Envelope recipients that replace the original ones (a rule's redirect action). */
  readonly redirectTo?: readonly string[];
  /** Notification messages a rule asked for, already rendered (macros expanded). */
  readonly notifications?: readonly RuleNotification[];
}

/** One matched rule in the verdict record and `tuxhat trace`. */
export interface RuleHit {
  readonly rule: string;
  readonly file: string;
  readonly actions: readonly string[];
}

/** A body rewrite a rule asked for (rules/transform.ts applies them). */
export type BodyTransform =
  | {
    readonly op: 'disclaimer';
    /** Appended to the first text/plain body part. */
    readonly text: string;
    /** Inserted before </body> of the first text/html part (escaped `text` in <pre> when unset). */
    readonly html?: string;
    /** Skip the message when this marker is already in the body (a reply quoting our disclaimer). */
    readonly marker?: string;
    readonly rule: string;
  }
  | {
    readonly op: 'strip-attachments';
    /** RegExp sources (case-insensitive) on file names / content types; both empty: every attachment. */
    readonly names: readonly string[];
    readonly types: readonly string[];
    /** Text of the part that replaces each removed attachment ({{filename}} expanded). */
    readonly note: string;
    readonly rule: string;
  };

export interface QuarantineOriginalRequest {
  readonly reason: string;
  readonly rules: readonly string[];
}

export interface RuleNotification {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly rule: string;
}

/** Final or intermediate outcome of one delivery attempt to one recipient. */
export interface DeliveryOutcome {
  readonly recipient: string;
  readonly status: 'delivered' | 'deferred' | 'bounced';
  /** Enhanced status code (RFC 3463), e.g. 2.0.0, 4.4.1, 5.1.1. */
  readonly dsn: string;
  /** The remote reply or our own explanation. */
  readonly response: string;
  /** Next hop that answered, e.g. "mx.example.net[192.0.2.1]:25", or "maildir". */
  readonly relay: string;
}

/** Queue places (ARCHITECTURE / house style §10). `active` is the queue manager's in-memory claim. */
export const QUEUE_STATES = ['incoming', 'deferred', 'hold', 'corrupt'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export type RecipientState = 'pending' | 'delivered' | 'bounced' | 'expired';

export interface QueueRecipient {
  readonly address: string;
  state: RecipientState;
  attempts: number;
  /** Last outcome, kept for `queue show`, DSNs and trace. */
  lastDsn?: string;
  lastResponse?: string;
  lastRelay?: string;
}

/** Where a queued body is stored (queue/spool.ts): its own file, or a range of a segment file. */
export type BodyLocation =
  | { readonly kind: 'file' }
  | { readonly kind: 'segment'; readonly segment: string; readonly offset: number; readonly length: number };

/** One queued message, as committed to the queue index. Per-recipient state lives inside. */
export interface QueueEntry {
  readonly qid: string;
  state: QueueState;
  readonly direction: Direction;
  readonly listener: string;
  readonly client: string;
  readonly helo: string;
  readonly authUser: string | null;
  readonly mailFrom: string;
  readonly recipients: QueueRecipient[];
  readonly size: number;
  readonly body: BodyLocation;
  readonly messageId: string | null;
  readonly bodyType: '7bit' | '8bitmime';
  readonly smtpUtf8: boolean;
  /** Epoch ms of the 250. */
  readonly receivedAt: number;
  /** Epoch ms of the next delivery attempt (meaningless in hold/corrupt). */
  nextAttemptAt: number;
  attempts: number;
  /** Header edits from the verdict, applied when streaming the spool file out. */
  readonly headerEdits: readonly HeaderEdit[];
  /** Set on DSNs we generate, so a bounce of a bounce is never made. */
  readonly isBounce: boolean;
  /** Whether a delay warning was already sent. */
  delayWarned: boolean;
  /**
   * The verdict record taken at receipt (client, TLS, message-id, score, symbols, action): shown
   * as the `queued` event of `tuxhat trace`, and written to the trace store when the entry
   * leaves the queue (one write fewer per message on the receiving path).
   */
  readonly receipt: Readonly<Record<string, unknown>>;
}
