/*
 * rules/time-zone.ts — is a `when.zone` an IANA time zone this Node.js knows?
 *
 * Building an Intl.DateTimeFormat loads ICU's time-zone and locale data: about 6 MB of the node
 * binary made resident in every process that validates a rule file, even when the rule is
 * disabled. The list of canonical zone names costs about 0.5 MB; only a name missing from it
 * (an alias such as Asia/Calcutta, which DateTimeFormat also accepts) falls back to the exact test.
 */
let canonical: Set<string> | null = null;

export function isKnownTimeZone(zone: string): boolean {
  canonical ??= new Set(['utc', ...Intl.supportedValuesOf('timeZone').map((z) => z.toLowerCase())]);
  if (canonical.has(zone.toLowerCase())) return true;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
