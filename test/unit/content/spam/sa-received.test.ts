/*
 * Unit tests of content/spam/sa-received.ts: Received lines read as SpamAssassin 4.0.1's
 * parse_received_line reads them (every expected value is SpamAssassin's own answer), and what
 * relayHeaders does with its three kinds of answer.
 */
import t from 'tap';
import { parseReceivedLine, type ReceivedParse } from '../../../../gateway/src/content/spam/sa-received.js';
import { formatRelay, relayHeaders } from '../../../../gateway/src/content/spam/sa-relays.js';
import { RECEIVED_PM_SAMPLES } from './fixtures/received-pm.js';

/** An answer as the fixtures write it. */
function show(p: ReceivedParse): string {
  if (p.kind !== 'relay') return p.kind;
  return formatRelay(p.relay, false) + (p.relay.noReverseDns ? ' no_reverse_dns' : '');
}

t.test('every sample line in Received.pm\'s comments reads as SpamAssassin reads it', async (t) => {
  for (const [line, expected] of RECEIVED_PM_SAMPLES) t.equal(show(parseReceivedLine(line)), expected, line);
});

t.test('TRAIN lines the earlier parser read otherwise', async (t) => {
  const relay = (line: string) => show(parseReceivedLine(line));
  t.equal(relay('from mail-gr-oh.networksonline.com ([65.163.204.6]) by usw-sf-list1.sourceforge.net with esmtp (Exim 3.31-VA-mm2 #1 (Debian)) id 17hskN-0008Ox-00 for <spamassassin-talk@lists.sourceforge.net>; Thu, 22 Aug 2002 07:15:39 -0700'),
    '[ ip=65.163.204.6 rdns=mail-gr-oh.networksonline.com helo=mail-gr-oh.networksonline.com by=usw-sf-list1.sourceforge.net ident= envfrom= intl=0 id=17hskN-0008Ox-00 auth= msa=0 ]',
    'Exim: `from NAME ([IP])` is the rDNS, and the HELO defaults to it');
  t.equal(relay('from [66.218.67.196] by n20.grp.scd.yahoo.com with NNFMP; 22 Aug 2002 11:46:30 -0000'),
    '[ ip=66.218.67.196 rdns= helo= by=n20.grp.scd.yahoo.com ident= envfrom= intl=0 id= auth= msa=0 ]', 'a bare [IP] is no HELO');
  t.equal(relay('from localhost (sendmail-bs@127.0.0.1) by localhost with SMTP; 1 Aug 2002 09:34:15 -0000'),
    '[ ip=127.0.0.1 rdns=localhost helo=localhost by=localhost ident=sendmail-bs envfrom= intl=0 id= auth= msa=0 ]', 'qmail\'s format comes before the localhost ignore rules');
  t.equal(relay('from [55.144.218.126] by rly-xl05.dohuya.com with local; Sat, 07 Sep 2002 13:40:19 -0400'),
    '[ ip=55.144.218.126 rdns= helo= by=rly-xl05.dohuya.com ident= envfrom= intl=0 id= auth= msa=0 ]', '`with local` with an address is a relay');
  t.equal(relay('from rly-yk04.aolmd.com ([118.157.246.229]) by mail.gimmixx.net with local; 07 Sep 2002 09:39:24 -0400'),
    '[ ip=118.157.246.229 rdns= helo=rly-yk04.aolmd.com by=mail.gimmixx.net ident= envfrom= intl=0 id= auth= msa=0 ] no_reverse_dns');
  t.equal(relay('from r-smtp.korea.com - 203.122.2.197 by dd_it7  with Microsoft SMTPSVC(5.5.1775.675.6); Sat, 24 Aug 2002 09:42:10 +0900'), 'unparseable');
  t.equal(relay('from andrew by trinity.supernews.net with local (Exim 4.12) id 18xeL6-000Dn1-00'), 'skip', 'Exim\'s local submission');
  t.equal(relay('(qmail 1234 invoked by uid 500); 22 Aug 2002 10:00:00 -0000'), 'skip', 'no `from`: nothing to read');
  t.equal(relay('from X-Originating-IP: 198.51.100.1'), '[ ip=198.51.100.1 rdns= helo= by= ident= envfrom= intl=0 id= auth= msa=0 ]', 'the synthetic line for an originating-IP header');
});

t.test('relayHeaders: unparseable lines counted, qmail-scanner\'s envelope sender passed to the hand-over below it', async (t) => {
  const h = relayHeaders([
    'from a.example (a.example [192.0.2.7]) by mx.example (8.12.5/8.12.5) with ESMTP id g1abc',
    'from 192.0.2.9 by mx.example (envelope-from <list-return-1@lists.example>, uid 502) with qmail-scanner-1.24 (clamdscan: 0.80/594. Clear:RC:0(192.0.2.9):. Processed in 0.288806 secs)',
    'from lists.example (lists.example [198.51.100.3]) by mx.example (8.12.5/8.12.5) with ESMTP id g2abc',
    'from b.example (b.example [198.51.100.4]) by lists.example (8.12.5/8.12.5) with ESMTP id g3abc',
    'from r-smtp.korea.com - 203.122.2.197 by dd_it7 with Microsoft SMTPSVC(5.5.1775.675.6)',
  ]);
  // SpamAssassin's X-Spam-Relays-Untrusted for these lines.
  t.equal(h.headers.get('x-spam-relays-untrusted'), '[ ip=192.0.2.7 rdns=a.example helo=a.example by=mx.example ident= envfrom= intl=0 id=g1abc auth= msa=0 ] [ ip=198.51.100.3 rdns=lists.example helo=lists.example by=mx.example ident= envfrom=list-return-1@lists.example intl=0 id=g2abc auth= msa=0 ] [ ip=198.51.100.4 rdns=b.example helo=b.example by=lists.example ident= envfrom= intl=0 id=g3abc auth= msa=0 ]');
  t.equal(h.unparseable, 1);
});

t.test('relayHeaders: last_trusted_relay_index counts every line above the first untrusted relay, the fetcher\'s too', async (t) => {
  const h = relayHeaders([
    'from localhost (localhost.localdomain [127.0.0.1]) by mothlight.example (8.11.6/8.11.6) with ESMTP id g7JJNts09985',
    'from fastmail.fm [209.61.183.86] by localhost with IMAP (fetchmail-5.9.0) for nice@localhost (single-drop)',
    'from www.fastmail.fm (server1.internal [10.202.2.132]) by server2.fastmail.fm (Cyrus v2.1.5) with LMTP',
    'from mx.sender.example (mx.sender.example [203.0.113.9]) by www.fastmail.fm (8.12.5/8.12.5) with ESMTP id g3abc',
    'from localhost (localhost [127.0.0.1]) by mx.sender.example (8.12.5/8.12.5) with ESMTP id g4abc',
  ]);
  // SpamAssassin: last_trusted_relay_index 2; the trusted list restarts below the fetch.
  t.equal(h.lastTrustedIndex, 2);
  t.same([h.trusted.map((r) => r.ip), h.untrusted.map((r) => r.ip)], [['10.202.2.132'], ['203.0.113.9', '127.0.0.1']]);
});
