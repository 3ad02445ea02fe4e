/* policy/checks/index.ts — the ordered list of session-time checks. A new check: one file, one line. */
import type { Check } from '../check.js';
import { accessLists } from './access-lists.js';
import { clientPtr } from './client-ptr.js';
import { dnsbl } from './dnsbl.js';
import { dnsblThreshold } from './dnsbl-threshold.js';
import { helo } from './helo.js';
import { prefetch } from './prefetch.js';
import { recipientVerify } from './recipient-verify.js';
import { relayAccess } from './relay-access.js';
import { senderAccess } from './sender-access.js';
import { senderVerify } from './sender-verify.js';
import { greylist } from './greylist.js';
import { rateLimitMail, rateLimitRcpt } from './rate-limit.js';
import { reputation } from './reputation.js';
import { spfEarly } from './spf-early.js';

export const CHECKS: readonly Check[] = [
  senderAccess, relayAccess,
  // issue 3: SPF -all fails refused at MAIL FROM (authentication.earlySpfReject, off by default)
  spfEarly,
  // issue 5: access lists, DNSBL/DNSWL, hygiene, verification
  prefetch, dnsbl, clientPtr, helo, senderVerify, accessLists, dnsblThreshold, recipientVerify,
  // issue 5: reputation, rate limits, greylisting (LMDB)
  reputation, rateLimitMail, rateLimitRcpt, greylist,
];
