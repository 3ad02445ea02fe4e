/*
 * core/replies.ts — every SMTP reply the gateway itself chooses, in one table.
 *
 * Code throws `new GatewayError('RELAY_DENIED', detail)`; only listen/ renders a key to the wire.
 * Enhanced codes are set here, never guessed by smtp-server (which would turn every 550 at RCPT
 * into 5.1.1). Keys are stable and never reused; docs/replies.md is generated from this table and
 * test/unit/core/replies.test.ts fails when they drift. Most severe first (Postfix cleanup_strerror.c).
 */

export interface Reply {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

export const REPLIES = {
  // 5xx: we are sure
  RELAY_DENIED: { code: 550, enhanced: '5.7.1', text: 'Relay access denied' },
  DMARC_REJECT: { code: 550, enhanced: '5.7.1', text: 'Rejected by the DMARC policy of the sender domain' },
  // A virus found by clamd (content/checks/antivirus.ts); the detail is the signature name.
  AV_VIRUS: { code: 554, enhanced: '5.7.1', text: 'Message rejected: virus found' },
  SPAM_REJECT: { code: 550, enhanced: '5.7.1', text: 'Message rejected as spam' },
  // RFC 7372 §3.2: the early SPF check (authentication.earlySpfReject) at MAIL FROM.
  SPF_REJECT: { code: 550, enhanced: '5.7.23', text: 'SPF validation failed: the sender domain does not allow this host' },
  AUTH_FAILED: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
  AUTH_REQUIRED: { code: 530, enhanced: '5.7.0', text: 'Authentication required' },
  ENCRYPTION_REQUIRED: { code: 530, enhanced: '5.7.0', text: 'Must issue a STARTTLS command first' },
  BAD_RECIPIENT_SYNTAX: { code: 553, enhanced: '5.1.3', text: 'Bad recipient address syntax' },
  BAD_SENDER_SYNTAX: { code: 553, enhanced: '5.1.7', text: 'Bad sender address syntax' },
  UNKNOWN_DOMAIN: { code: 550, enhanced: '5.1.2', text: 'Recipient domain not handled here' },
  MESSAGE_TOO_BIG: { code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed limit' },
  // Session policy (policy/checks/): access lists, DNSBL, hygiene, verification
  ACCESS_DENIED: { code: 550, enhanced: '5.7.1', text: 'Access denied' },
  DNSBL_REJECT: { code: 554, enhanced: '5.7.1', text: 'Service unavailable; client host blocked by DNS blocklists' },
  HELO_INVALID: { code: 550, enhanced: '5.5.2', text: 'Helo command rejected: invalid hostname' },
  HELO_OURS: { code: 550, enhanced: '5.7.1', text: 'Helo command rejected: that is my name' },
  UNKNOWN_RECIPIENT: { code: 550, enhanced: '5.1.1', text: 'Recipient address rejected: User unknown' },
  SENDER_DOMAIN_UNKNOWN: { code: 550, enhanced: '5.1.8', text: 'Sender address rejected: Domain not found' },
  SENDER_UNDELIVERABLE: { code: 550, enhanced: '5.1.7', text: 'Sender address rejected: undeliverable address' },
  SMUGGLING_REJECT: { code: 550, enhanced: '5.5.2', text: 'Message rejected: bare <LF> or <CR> in DATA (RFC 5321 2.3.8)' },
  // A site rule's reject action (rules/); the rule's own text is the detail.
  RULE_REJECT: { code: 550, enhanced: '5.7.1', text: 'Message rejected by site policy' },
  RULE_REJECT_TRANSACTION: { code: 554, enhanced: '5.7.1', text: 'Transaction failed: rejected by site policy' },
  // 4xx: we cannot decide safely now; the client keeps the message and retries
  SHUTTING_DOWN: { code: 421, enhanced: '4.3.2', text: 'Service shutting down, try again later' },
  TOO_MANY_CONNECTIONS: { code: 421, enhanced: '4.7.0', text: 'Too many connections from your host' },
  SPOOL_FULL: { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage' },
  TOO_MANY_RECIPIENTS: { code: 452, enhanced: '4.5.3', text: 'Too many recipients' },
  TOO_MANY_ERRORS: { code: 421, enhanced: '4.7.0', text: 'Too many errors, closing the connection' },
  TOO_MANY_UNKNOWN_COMMANDS: { code: 421, enhanced: '4.7.0', text: 'Too many unrecognized commands, closing the connection' },
  RECIPIENT_VERIFY_TEMPFAIL: { code: 450, enhanced: '4.4.1', text: 'Recipient address verification failed: internal server unavailable, try again later' },
  SENDER_VERIFY_TEMPFAIL: { code: 450, enhanced: '4.1.8', text: 'Sender address verification failed: DNS lookup failed, try again later' },
  SENDER_CALLOUT_TEMPFAIL: { code: 450, enhanced: '4.1.7', text: 'Sender address verification failed: the sender domain cannot be asked, try again later' },
  LOCAL_ERROR: { code: 451, enhanced: '4.3.0', text: 'Local error in processing, try again later' },
  POLICY_TEMPFAIL: { code: 451, enhanced: '4.7.1', text: 'Temporary failure in policy checks, try again later' },
  RULE_DEFER: { code: 451, enhanced: '4.7.1', text: 'Message deferred by site policy, try again later' },
  // RFC 7208 §2.6.6 / RFC 7489 §6.6.2 temperror: never pass or reject on a DNS failure.
  AUTH_TEMPFAIL: { code: 451, enhanced: '4.7.0', text: 'Temporary failure in sender authentication, try again later' },
  // clamd down, slow, or the message too large for it: never pass unscanned mail (fail safe).
  AV_TEMPFAIL: { code: 451, enhanced: '4.7.1', text: 'Content scan temporarily unavailable, try again later' },
  // Greylisting (RFC 6647 §4.2.1: a temporary failure the sender's MTA will retry).
  GREYLISTED: { code: 451, enhanced: '4.7.1', text: 'Greylisted, please try again later' },
  // Rate limits (inbound): the client slows down and retries; nothing is lost.
  RATE_LIMITED: { code: 450, enhanced: '4.7.1', text: 'Rate limit exceeded, try again later' },
  // 2xx
  QUEUED: { code: 250, enhanced: '2.0.0', text: 'Ok: queued as' },
} as const satisfies Record<string, Reply>;

export type ReplyKey = keyof typeof REPLIES;

/** An error that carries a reply key; match on `err.code`, never `instanceof` (copies of the module). */
export class GatewayError extends Error {
  readonly code: ReplyKey;
  readonly detail: string | undefined;
  constructor(code: ReplyKey, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${REPLIES[code].text}: ${detail}` : REPLIES[code].text, options);
    this.name = 'GatewayError';
    this.code = code;
    this.detail = detail;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'GatewayError'
    && typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code in REPLIES;
}

/** The wire text for a key: "<enhanced> <text>[: detail]". The basic code is sent separately. */
export function replyText(key: ReplyKey, detail?: string): string {
  const r = REPLIES[key];
  return detail ? `${r.enhanced} ${r.text}: ${detail}` : `${r.enhanced} ${r.text}`;
}
