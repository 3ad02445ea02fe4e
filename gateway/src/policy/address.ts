/*
 * policy/address.ts — split and judge envelope addresses. Pure functions.
 * Sender-specified routing (user%host@relay, host!user@relay, "user@host"@relay) is how open
 * relays were abused; like Postfix's allow_untrusted_routing = no, we refuse it from untrusted
 * clients. Source routes (<@a:user@b>) were already stripped by smtp-server (RFC 5321 §C).
 */
export interface ParsedAddress {
  readonly local: string;
  readonly domain: string;
}

export function splitAddress(address: string): ParsedAddress | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(domain) && !/^\[[0-9a-f:.]+\]$/.test(domain)) {
    // U-labels (SMTPUTF8) are allowed as long as they contain no routing or control characters.
    if (/[\s@%!,:;<>()[\]\\"]/.test(domain) || domain.length === 0) return null;
  }
  return { local: address.slice(0, at), domain };
}

/** True when the local part tries to route mail onward (%, !, a quoted @). */
export function hasSenderRouting(local: string): boolean {
  return /[%!@]/.test(local);
}
