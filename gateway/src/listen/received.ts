/*
 * listen/received.ts — our Received: trace header (RFC 5321 §4.4, protocol names RFC 3848).
 * The recipient is named only for single-recipient messages, so a Bcc list is never revealed.
 */
import type { Session } from '../core/index.js';

export function receivedHeader(opts: { session: Session; hostname: string; qid: string; recipients: readonly string[]; now?: Date }): string {
  const { session, hostname, qid, recipients } = opts;
  const proto = `ESMTP${session.tls ? 'S' : ''}${session.authUser ? 'A' : ''}`;
  const ip = session.clientIp.includes(':') ? `IPv6:${session.clientIp}` : session.clientIp;
  const helo = sanitize(session.helo || 'unknown');
  const tls = session.tls ? `\r\n\t(using ${session.tls.protocol} with cipher ${session.tls.cipher})` : '';
  const forPart = recipients.length === 1 ? `\r\n\tfor <${sanitize(recipients[0] ?? '')}>` : '';
  const date = formatDate(opts.now ?? new Date());
  return `Received: from ${helo} (${session.ptr ? sanitize(session.ptr) : 'unknown'} [${ip}])${tls}\r\n\tby ${hostname} (TuxHat) with ${proto} id ${qid}${forPart};\r\n\t${date}\r\n`;
}

function sanitize(s: string): string {
  return s.replace(/[^\x21-\x7e]/g, '?').slice(0, 255);
}

/** RFC 5322 date-time in UTC. */
export function formatDate(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
