/*
 * Unit tests of SpamAssassin's Perl-coded tests ported as functions (content/spam/sa-eval.ts),
 * the relay pseudo headers (sa-relays.ts), the MIME and HTML facts they read (sa-mime.ts,
 * sa-html.ts), mimeheader rules, and the lazy meta evaluation (metaJs): for every ported
 * function a message it fires on and one it must not fire on.
 */
import t from 'tap';
import { convertSaRules, parseEval } from '../../../../gateway/src/content/spam/sa-convert.js';
import { SA_EVALS, parseDate } from '../../../../gateway/src/content/spam/sa-eval.js';
import { colorValue, htmlFacts } from '../../../../gateway/src/content/spam/sa-html.js';
import { decodedBody, mimeFacts, partText, rawbodyChunks, saContentType } from '../../../../gateway/src/content/spam/sa-mime.js';
import { requiredAlternatives } from '../../../../gateway/src/content/spam/sa-prefilter.js';
import { messageRelays, parseReceived, relayAuth, relayHeaders } from '../../../../gateway/src/content/spam/sa-relays.js';
import { relayTrustOf } from '../../../../gateway/src/content/spam/engine.js';
import { compileSaRules, freemailTest, metaJs, saHits } from '../../../../gateway/src/content/spam/sa-rules.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';
import type { SaRule } from '../../../../gateway/src/content/spam/sa-convert.js';

/** LF → CRLF; a Buffer stays bytes (Latin-1 text, for 8-bit headers that are not UTF-8). */
const crlf = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s.replace(/\r?\n/g, '\r\n')) : Buffer.from(s.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'));
const FREEMAIL = ['freemail.test', 'yahoo.com', 'hotmail.com', 'mail.*'];

/** Does the eval rule fn(args) fire on this message? */
async function fires(fn: string, args: string[], raw: string | Buffer): Promise<boolean> {
  const rule: SaRule = { name: 'X', type: 'eval', fn, args, score: 1 };
  const set = compileSaRules([rule], FREEMAIL);
  return saHits(set, await parseMessage(crlf(raw))).length === 1;
}

const HDR = 'From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: hello there friend\nDate: Thu, 22 Aug 2002 13:00:00 +0000\nMessage-ID: <1@example.org>\n';
const RCVD = (date: string) => `Received: from mx.example.org (mx.example.org [192.0.2.10]) by gw.example.net (Postfix) with ESMTP id ABC; ${date}\n`;

interface Case { fn: string; args?: string[]; yes: string | Buffer; no: string | Buffer; why: string }

const plainHtml = (html: string) => `${HDR}MIME-Version: 1.0\nContent-Type: text/html\n\n${html}\n`;
const alt = (text: string, html: string) => `${HDR}MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\n${text}\n--b1\nContent-Type: text/html\n\n${html}\n--b1--\n`;

const CASES: Case[] = [
  {
    fn: 'check_for_shifted_date', args: ['6', '12'], why: 'Date 8 h after the Received time',
    yes: `${RCVD('Thu, 22 Aug 2002 05:00:00 +0000')}${HDR}\nbody\n`, no: `${RCVD('Thu, 22 Aug 2002 12:59:00 +0000')}${HDR}\nbody\n`,
  },
  {
    fn: 'check_for_shifted_date', args: ['undef', '-96'], why: 'Date 5 days before the Received time',
    yes: `${RCVD('Tue, 27 Aug 2002 13:00:00 +0000')}${HDR}\nbody\n`, no: `${RCVD('Thu, 22 Aug 2002 14:00:00 +0000')}${HDR}\nbody\n`,
  },
  {
    fn: 'subject_is_all_caps', why: 'several words, all capitals',
    yes: `${HDR.replace('hello there friend', 'MAKE MONEY FAST NOW')}\nx\n`, no: `${HDR.replace('hello there friend', 'Re: MAKEMONEYFAST')}\nx\n`,
  },
  { fn: 'check_for_missing_to_header', why: 'no To', yes: `${HDR.replace('To: bob@example.net\n', '')}\nx\n`, no: `${HDR}\nx\n` },
  {
    fn: 'check_for_missing_to_header', why: 'an empty To is there (as SpamAssassin: not missing)',
    yes: `${HDR.replace('To: bob@example.net\n', 'Cc: bob@example.net\n')}\nx\n`, no: `${HDR.replace('To: bob@example.net\n', 'To: \n')}\nx\n`,
  },
  {
    fn: 'check_equal_from_domains', why: 'From and envelope sender in different domains',
    yes: `Return-Path: <bounce@other.test>\n${HDR}\nx\n`, no: `Return-Path: <alice@mail.example.org>\n${HDR}\nx\n`,
  },
  {
    fn: 'check_outlook_message_id', why: 'Outlook-style id whose time token disagrees with Date and Received',
    yes: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}${HDR.replace('<1@example.org>', '<00001234abcd$00000000$00000000@pc>')}\nx\n`,
    no: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}${HDR.replace('<1@example.org>', '<000001c249db$00000000$00000000@pc>')}\nx\n`,
  },
  {
    fn: 'check_header_count_range', args: ['Subject', '2', '999'], why: 'two different Subject headers',
    yes: `${HDR}Subject: another\n\nx\n`, no: `${HDR}\nx\n`,
  },
  {
    fn: 'check_for_to_in_subject', args: ['user'], why: 'the Subject starts with the recipient\'s local part',
    yes: `${HDR.replace('hello there friend', 'bob, a special offer')}\nx\n`, no: `${HDR}\nx\n`,
  },
  { fn: 'gated_through_received_hdr_remover', why: 'no Received at all', yes: `${HDR}\nx\n`, no: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}${HDR}\nx\n` },
  {
    fn: 'check_ratware_name_id', why: 'Message-ID <28 capitals.localpart> and a quoted From name with that address',
    yes: `From: "Bob" <deals@x.test>\nTo: a@b.test\nSubject: s\nMessage-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.deals@x.test>\n\nx\n`,
    no: `${HDR}\nx\n`,
  },
  {
    fn: 'check_ratware_envelope_from', why: 'envelope sender built from the recipient domain and user',
    yes: `Return-Path: <example.net.bob@spammer.test>\n${HDR}\nx\n`, no: `Return-Path: <alice@example.org>\n${HDR}\nx\n`,
  },
  {
    fn: 'check_for_forged_yahoo_received_headers', why: 'a yahoo.com sender through no Yahoo server',
    yes: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}From: x@yahoo.com\nTo: a@b.test\nSubject: s\n\nx\n`,
    no: `Received: from web1.mail.yahoo.com by web1.mail.yahoo.com via HTTP; Thu, 22 Aug 2002 13:00:00 +0000\nFrom: x@yahoo.com\nTo: a@b.test\nSubject: s\n\nx\n`,
  },
  {
    fn: 'check_illegal_chars', args: ['Subject', '0.00', '2'], why: 'raw 8-bit bytes in the Subject that are not UTF-8 (Latin-1 here)',
    yes: Buffer.from(`From: a@b.test\nTo: c@d.test\nSubject: caf\u00e9 \u00e9t\u00e9\n\nx\n`, 'latin1'), no: `${HDR}\nx\n`,
  },
  {
    fn: 'check_illegal_chars', args: ['Subject', '0.00', '2'], why: 'SpamAssassin 4: valid UTF-8 without controls is legal; one pound sign is let pass',
    yes: Buffer.from(`From: a@b.test\nTo: c@d.test\nSubject: \u00a3\u00a3600\n\nx\n`, 'latin1'),
    no: `From: a@b.test\nTo: c@d.test\nSubject: caf\u00e9 \u00e9t\u00e9 \u00a3600\n\nx\n`,
  },
  {
    fn: 'helo_ip_mismatch', why: 'HELO an IPv4 address outside the relay\'s /24',
    yes: `Received: from 198.51.100.7 ([203.0.113.9]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `Received: from 203.0.113.7 ([203.0.113.9]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_all_trusted', why: 'only loopback relays (all trusted)',
    yes: `Received: from localhost (localhost [127.0.0.1]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `Received: from localhost (localhost [127.0.0.1]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\nReceived: from mx.a.test (mx.a.test [203.0.113.9]) by localhost with SMTP; Thu, 22 Aug 2002 12:59:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_all_trusted', why: 'trusted relays and no line SpamAssassin cannot read',
    yes: `Received: from localhost (localhost [127.0.0.1]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `Received: from localhost (localhost [127.0.0.1]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\nReceived: from mx.a.test (mx.a.test) by localhost with SMTP; Thu, 22 Aug 2002 12:59:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_no_relays', why: 'no Received header at all',
    yes: `${HDR}\nx\n`,
    no: `Received: from mx.a.test (mx.a.test [203.0.113.9]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_no_relays', why: 'a Received line SpamAssassin skips is no relay (rspamd\'s btc.eml); one it cannot read is',
    yes: `Received: from localhost by mail.example.com with SMTP id j14so14439709lfg.9\n${HDR}\nx\n`,
    no: `Received: from mx.a.test (mx.a.test) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_for_no_rdns_dotcom_helo', why: 'HELO hotmail.com from an address without reverse DNS',
    yes: `Received: from hotmail.com ([203.0.113.9]) by gw.test (8.12.5/8.12.5) with ESMTP id g1abc; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `Received: from hotmail.com (mx.hotmail.com [203.0.113.9]) by gw.test (8.12.5/8.12.5) with ESMTP id g1abc; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_for_no_rdns_dotcom_helo', why: 'Microsoft SMTPSVC never records reverse DNS: its missing rDNS is no evidence',
    yes: `Received: from mx1.mail.yahoo.com ([203.0.113.9]) by gw.test (8.12.5/8.12.5) with ESMTP id g1; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `Received: from mx1.mail.yahoo.com ([203.0.113.9]) by gw.test with Microsoft SMTPSVC(5.0.2195.2966); Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_for_no_rdns_dotcom_helo', why: 'qmail writes "unknown" when it was not told the rDNS: no evidence either',
    yes: `Received: from unknown (HELO hotmail.com) (203.0.113.9) by gw.test with ESMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `Received: from unknown (HELO hotmail.com) (203.0.113.9) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
  },
  {
    fn: 'check_for_forged_hotmail_received_headers', why: 'a Received line claims hotmail.com without hotmail\'s trace',
    yes: `Received: from hotmail.com ([203.0.113.9]) by gw.test with SMTP; Thu, 22 Aug 2002 13:00:00 +0000\nFrom: x@hotmail.com\nTo: a@b.test\nSubject: s\n\nx\n`,
    no: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}From: x@hotmail.com\nTo: a@b.test\nSubject: s\n\nx\n`,
  },
  {
    fn: 'check_for_no_hotmail_received_headers', why: 'a hotmail.com sender with no hotmail Received line',
    yes: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}From: x@hotmail.com\nTo: a@b.test\nSubject: s\n\nx\n`,
    no: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}${HDR}\nx\n`,
  },
  {
    fn: 'similar_recipients', args: ['0.65', 'undef'], why: 'five recipients alike in user and host prefix',
    yes: `From: a@b.test\nTo: aa1@xx1.test, aa2@xx2.test, aa3@xx3.test, aa4@xx4.test, aa5@xx5.test\nSubject: s\n\nx\n`,
    no: `From: a@b.test\nTo: bob@one.test, carol@two.test, dave@three.test, erin@four.test, frank@five.test\nSubject: s\n\nx\n`,
  },
  { fn: 'check_body_length', args: ['10'], why: 'a body of at most 10 bytes', yes: `${HDR}\nhi\n`, no: `${HDR}\nthis body is longer than ten bytes\n` },
  {
    fn: 'check_mailfrom_matches_rcvd', why: 'the envelope sender\'s domain is the first relay\'s reverse DNS domain',
    yes: `Return-Path: <a@example.org>\n${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}${HDR}\nx\n`,
    no: `Return-Path: <a@elsewhere.test>\n${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}${HDR}\nx\n`,
  },
  {
    fn: 'check_freemail_from', why: 'From at a freemail domain (a pattern too)',
    yes: `From: x@mail.example\nTo: a@b.test\nSubject: s\n\nx\n`, no: `${HDR}\nx\n`,
  },
  {
    fn: 'check_freemail_from', why: 'all_from_addrs: the envelope sender too (X-Envelope-From), not Sender',
    yes: `From: x@corp.test\nX-Envelope-From: y@yahoo.com\nTo: a@b.test\nSubject: s\n\nx\n`,
    no: `From: x@corp.test\nSender: list-owner@yahoo.com\nTo: a@b.test\nSubject: s\n\nx\n`,
  },
  {
    fn: 'check_freemail_from', why: 'all_from_addrs: a Resent-From with an address replaces the others',
    yes: `Resent-From: r@hotmail.com\nFrom: x@corp.test\nTo: a@b.test\nSubject: s\n\nx\n`,
    no: `Resent-From: r@corp.test\nFrom: x@hotmail.com\nTo: a@b.test\nSubject: s\n\nx\n`,
  },
  {
    fn: 'check_freemail_header', args: ['Reply-To', '\\d@'], why: 'a freemail Reply-To whose local part ends in a digit',
    yes: `${HDR}Reply-To: win2024@freemail.test\n\nx\n`, no: `${HDR}Reply-To: win@freemail.test\n\nx\n`,
  },
  {
    fn: 'check_freemail_replyto', args: ['replyto'], why: 'From and Reply-To at freemail, different addresses',
    yes: `From: a@freemail.test\nReply-To: b@yahoo.com\nTo: c@d.test\nSubject: s\n\nx\n`,
    no: `From: a@freemail.test\nReply-To: a@freemail.test\nTo: c@d.test\nSubject: s\n\nx\n`,
  },
  {
    fn: 'check_freemail_replyto', args: ['reply'], why: 'a freemail address in a mailto: link counts as one in the body; a quoted sender ("x@y wrote:") does not',
    yes: `From: a@freemail.test\nTo: c@d.test\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n<p>write to <a href="mailto:b@yahoo.com">us</a></p>\n`,
    no: `From: a@freemail.test\nTo: c@d.test\nSubject: s\n\nOn Monday b@yahoo.com wrote: hello\n`,
  },
  { fn: 'check_for_mime_html', why: 'an HTML part', yes: alt('t', '<p>h</p>'), no: `${HDR}\nplain\n` },
  { fn: 'check_for_mime_html_only', why: 'HTML without a text part', yes: plainHtml('<p>hi</p>'), no: alt('t', '<p>h</p>') },
  {
    fn: 'check_for_mime', args: ['mime_qp_long_line'], why: 'a quoted-printable line over 76 characters',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n${'a'.repeat(90)}\n`,
    no: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nshort=\n line\n`,
  },
  {
    fn: 'check_for_mime', args: ['mime_base64_encoded_text'], why: 'a plain ASCII text part sent in base64',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${Buffer.from('just plain text').toString('base64')}\n`,
    no: `${HDR}\nplain\n`,
  },
  {
    fn: 'check_for_mime', args: ['mime_base64_encoded_text'], why: 'as MIMEEval: the declared charset decides (us-ascii yes, utf-8 no), not the decoded bytes',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain; charset="US-ASCII"\nContent-Transfer-Encoding: base64\n\n${Buffer.from('caf\xe9 8-bit').toString('base64')}\n`,
    no: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${Buffer.from('just plain text').toString('base64')}\n`,
  },
  {
    fn: 'check_for_mime', args: ['mime_base64_encoded_text'], why: 'an inline or attached text part does not count',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Disposition: x-other\nContent-Transfer-Encoding: base64\n\n${Buffer.from('text').toString('base64')}\n`,
    no: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\n${Buffer.from('text').toString('base64')}\n`,
  },
  {
    fn: 'check_for_uppercase', args: ['75', '100'], why: 'a body mostly in capitals',
    yes: `${HDR}\n${'BUY NOW CHEAP PILLS '.repeat(15)}\n`, no: `${HDR}\n${'a normal sentence here. '.repeat(15)}\n`,
  },
  {
    fn: 'check_for_uppercase', args: ['50', '75'], why: 'MIMEEval: digits count as lower case, only lines with a space inside count, over 200 characters',
    yes: `${HDR}\n${'ABCD EFGH ijk '.repeat(20)}\n`,
    no: `${HDR}\n${'ABCD efgh 1234567 '.repeat(20)}\n\n${'X'.repeat(300)}\n`,
  },
  {
    fn: 'check_for_uppercase', args: ['75', '100'], why: 'a charset of a script without case (koi8-r) reads 0',
    yes: `${HDR}\n${'SHOUTING IN CAPS '.repeat(20)}\n`,
    no: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain; charset=koi8-r\n\n${'SHOUTING IN CAPS '.repeat(20)}\n`,
  },
  {
    fn: 'tvd_vertical_words', args: ['0', '10'], why: 'body lines with (almost) no spaces (vertical text); ported for the fidelity diff',
    // The Subject is a body line too (the highest share counts): one without spaces here.
    // (A paragraph's CRLF becomes a trailing space, as in SpamAssassin: 1 space in 13 letters is 7 %.)
    yes: `${HDR.replace('Subject: hello there friend', 'Subject: Opportunity')}\nWonderfulness\n\nExtraordinary\n`, no: `${HDR}\nthis is an ordinary sentence with spaces\n`,
  },
  { fn: 'html_test', args: ['html'], why: 'HTML with tags', yes: plainHtml('<p>hi</p>'), no: `${HDR}\nplain <3\n` },
  {
    fn: 'html_test', args: ['font_low_contrast'], why: 'near-white text on white',
    yes: plainHtml('<body><font color="#fefefe">hidden words</font> visible</body>'), no: plainHtml('<body><font color="#333333">dark words</font></body>'),
  },
  {
    fn: 'html_test', args: ['font_face_bad'], why: 'a font face that is no font name',
    yes: plainHtml('<font face="$$$">x</font>'), no: plainHtml('<font face="Arial, Helvetica">x</font>'),
  },
  { fn: 'html_tag_exists', args: ['center'], why: 'a <center> tag', yes: plainHtml('<center>x</center>'), no: plainHtml('<p>x</p>') },
  {
    fn: 'html_tag_balance', args: ['body', '!= 0'], why: 'an unclosed <body>',
    yes: plainHtml('<html><body>x</html>'), no: plainHtml('<html><body>x</body></html>'),
  },
  {
    fn: 'html_tag_balance', args: ['body', '!= 0'], why: 'as HTML.pm, an extra close tag counts as closed_extra, the balance stays 0',
    yes: plainHtml('<html><body><body>x</body></html>'), no: plainHtml('<html><body>x</body></body></html>'),
  },
  {
    fn: 'html_range', args: ['obfuscation_ratio', '.1', '.2'], why: 'words split by tags ("V<b></b>iagra"), per tag',
    yes: plainHtml('<p>V<b></b>iagra and C<i></i>ialis here and more words in a paragraph</p><p>x</p><p>y</p>'),
    no: plainHtml('<p>Viagra <b>and</b> Cialis here</p><p>x</p><p>y</p><p>z</p>'),
  },
  {
    fn: 'html_range', args: ['non_element_ratio', '0.30', '0.40'], why: 'one of three distinct tags is no HTML element',
    yes: plainHtml('<b><blink>x</blink></b><p>y</p>'), no: plainHtml('<b><i>x</i></b><p>y</p>'),
  },
  {
    fn: 'html_range', args: ['max_size', '5', '6'], why: 'font size 6 (3 + 3)',
    yes: plainHtml('<font size="+3">BIG</font>'), no: plainHtml('<font size="2">small</font>'),
  },
  {
    fn: 'html_eval', args: ['length', '< 20'], why: 'HTML.pm\'s length is the HTML source\'s, tags included',
    yes: plainHtml('<p>hi</p>'), no: plainHtml('<p><b><i>hi</i></b></p>'),
  },
  {
    fn: 'html_image_only', args: ['0', '400'], why: 'an image in little HTML',
    yes: plainHtml('<img src="http://x.test/a.png"> buy'), no: plainHtml(`<img src="http://x.test/a.png"> ${'text '.repeat(100)}`),
  },
  {
    fn: 'html_image_only', args: ['0', '400'], why: 'each HTML part on its own (html_all): a short one with an image beside a long one',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/html\n\n<img src="a.png"> buy\n--m\nContent-Type: text/html\n\n<p>${'text '.repeat(100)}</p>\n--m--\n`,
    no: `${HDR}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/html\n\n<img src="a.png"> ${'text '.repeat(100)}\n--m\nContent-Type: text/html\n\n<p>short</p>\n--m--\n`,
  },
  {
    fn: 'html_image_ratio', args: ['0.000', '0.002'], why: 'a big image and two words',
    yes: plainHtml('<img src="a.png" width="600" height="400"> buy now'), no: plainHtml(`<img src="a.png" width="10" height="10"> ${'text '.repeat(50)}`),
  },
  {
    fn: 'html_text_match', args: ['comment', '<!-- saved from url=\\(\\d{4}\\)'], why: 'a "saved from url" comment',
    yes: plainHtml('<!-- saved from url=(0022)http://x.test/ --><p>x</p>'), no: plainHtml('<!-- a comment --><p>x</p>'),
  },
  {
    fn: 'sorted_recipients', why: 'seven To/Cc addresses in sort order (ratware mailing a sorted list)',
    yes: `${HDR.replace('To: bob@example.net', 'To: a1@x.test, a2@x.test, b@y.test, c@z.test\nCc: d@x.test, e@y.test, f@z.test')}\nx\n`,
    no: `${HDR.replace('To: bob@example.net', 'To: a1@x.test, b@y.test, a2@x.test, c@z.test\nCc: d@x.test, e@y.test, f@z.test')}\nx\n`,
  },
  {
    fn: 'check_unresolved_template', why: 'a %TEMPLATE variable left in a header other than the exempt ones',
    yes: `${HDR}X-Mailer: %MAILER_NAME\n\nx\n`, no: `${HDR.replace('hello there friend', '100%OFF %FREE')}X-Mailer: mutt 50%\n\nx\n`,
  },
  {
    fn: 'check_base64_length', args: ['79'], why: 'a base64 line of 78 characters (79 with its newline)',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${'QUJD'.repeat(19)}QU\n`,
    no: `${HDR}MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${'QUJD'.repeat(19)}\n`,
  },
  {
    fn: 'multipart_alternative_difference', args: ['99', '100'], why: 'the HTML alternative shares no word with the text one',
    yes: alt('please enable html', '<p>cheap pills online now</p>'), no: alt('cheap pills online now', '<p>cheap <b>pills</b> online now</p>'),
  },
  {
    fn: 'multipart_alternative_difference', args: ['99', '100'], why: 'an HTML alternative that is only an image (here base64-encoded) against a text one',
    yes: `${HDR}MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nhello there\n--b1\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n${Buffer.from('<img src="http://x.test/a.png">').toString('base64')}\n--b1--\n`,
    no: alt('hello there', '<p>hello there</p>'),
  },
  {
    fn: 'multipart_alternative_difference_count', args: ['3', '1'], why: 'the text alternative has over 3 times the distinct words of the HTML one',
    yes: alt('one two three four five six seven eight nine', '<p>hi there</p>'), no: alt('hi there', '<p>hi there</p>'),
  },
  {
    fn: 'check_relays_unparseable', why: 'a Received line naming a sender in no format SpamAssassin reads',
    yes: `Received: from mail.example.org (192.0.2.7:25) by mx.test; Thu, 22 Aug 2002 13:00:00 +0000\n${HDR}\nx\n`,
    no: `${RCVD('Thu, 22 Aug 2002 13:00:00 +0000')}Received: from localhost (user@localhost) by mx.example.org (8.12.5/8.12.5) id g7MD0\n${HDR}\nx\n`,
  },
  {
    fn: 'html_title_subject_ratio', args: ['3.5'], why: 'a <title> over 3.5 times as long as the Subject',
    yes: plainHtml(`<title>${'a very long title '.repeat(5)}</title><p>x</p>`), no: plainHtml('<title>hello there</title><p>x</p>'),
  },
];

t.test('every ported eval function: a message it fires on and one it must not', async (t) => {
  const tested = new Set<string>();
  for (const c of CASES) {
    tested.add(c.fn);
    t.equal(await fires(c.fn, c.args ?? [], c.yes), true, `${c.fn}(${(c.args ?? []).join(', ')}) fires: ${c.why}`);
    t.equal(await fires(c.fn, c.args ?? [], c.no), false, `${c.fn}(${(c.args ?? []).join(', ')}) silent otherwise`);
  }
  for (const fn of Object.keys(SA_EVALS).filter((f) => /^check_(dkim|arc)_/.test(f))) {
    tested.add(fn);
    t.equal(await fires(fn, [], `DKIM-Signature: v=1; d=example.org; s=s; b=abc\n${HDR}\nx\n`), false, `${fn}: false without network, as SpamAssassin's -L`);
  }
  t.same(Object.keys(SA_EVALS).filter((f) => !tested.has(f)), [], 'no ported function without a test');
});

t.test('parseEval and the converter: ported eval rules kept, others skipped, their metas alive', async (t) => {
  t.same(parseEval("eval:check_for_shifted_date('-6', '-3')"), { fn: 'check_for_shifted_date', args: ['-6', '-3'] });
  t.same(parseEval("eval:check_freemail_header('Reply-To', '\\d@')"), { fn: 'check_freemail_header', args: ['Reply-To', '\\d@'] });
  t.same(parseEval('eval:html_test("html")'), { fn: 'html_test', args: ['html'] });
  const cf = `header DATE_FUT eval:check_for_shifted_date('6', '12')
header NOT_PORTED eval:check_something_else()
meta BOTH DATE_FUT && HTML_M
body HTML_M eval:html_test('html')
header RBL eval:check_rbl('x', 'zen.example.')
tflags RBL net
meta NOT_RBL !RBL && HTML_M
mimeheader ATT_EXE Content-Type =~ /name="?[^"]+\\.exe/i
freemail_domains freemail.test yahoo.*
`;
  const { rules, skipped, freemail } = convertSaRules([{ name: 't.cf', text: cf }], 2, { evals: new Set(Object.keys(SA_EVALS)) });
  const by = new Map(rules.map((r) => [r.name, r]));
  t.same(by.get('DATE_FUT'), { name: 'DATE_FUT', score: 1, type: 'eval', fn: 'check_for_shifted_date', args: ['6', '12'] });
  t.equal(by.get('BOTH')?.type, 'meta', 'a meta over ported evals is kept');
  t.same(skipped['eval: (Perl code)'], ['NOT_PORTED']);
  t.same(by.get('RBL'), { name: 'RBL', type: 'meta', expr: '0', score: 0 }, 'a network rule reads false');
  t.equal(by.get('ATT_EXE')?.type, 'mimeheader');
  t.same(freemail, ['freemail.test', 'yahoo.*']);
  const set = compileSaRules(rules, freemail);
  const att = await parseMessage(crlf(`${HDR}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b\nContent-Type: application/octet-stream; name="invoice.exe"\n\nMZ\n--b--\n`));
  t.same(saHits(set, att).map((h) => h.name).sort(), ['SA_ATT_EXE', 'SA_HTML_M', 'SA_NOT_RBL'], 'mimeheader sees a part header; !network is true');
});

t.test('freemailTest: exact domains and patterns', async (t) => {
  const fm = freemailTest(['yahoo.com', 'mail.*', 'web?.de']);
  t.ok(fm('X@Yahoo.com'));
  t.ok(fm('x@mail.ru'));
  t.ok(fm('x@web1.de'));
  t.notOk(fm('x@notyahoo.com'));
  t.notOk(fm('x@sub.mail.ru.example'), 'a pattern matches the whole domain, * not across the end');
  t.notOk(fm('no-at-sign'));
  const star = freemailTest(['freemail.*.*', 'hotmail.*']);
  t.ok(star('a@freemail.nx.net'));
  t.notOk(star('a@freemail.nx.cninfo.net'), '* stays within one label, as FreeMail.pm\'s [^.]* (spam-1/00297 in TRAIN)');
  t.notOk(star('a@hotmail.com.br'));
  t.notOk(fm('info@yahoo.com'), 'role addresses are welcomelisted ($email_welcomelist)');
  t.notOk(fm('postmaster@yahoo.com'));
  t.notOk(fm('a=b=c@yahoo.com'), 'a forwarding address');
  t.ok(fm('information@yahoo.com'), 'only the whole local part');
});

t.test('parseReceived: common trace formats, as SpamAssassin reads them', async (t) => {
  const r = (s: string) => {
    const x = parseReceived(s);
    return x && { ip: x.ip, rdns: x.rdns, helo: x.helo, by: x.by };
  };
  t.same(r('from SERVER2 (mail.nomioan.gr [195.167.25.66]) by webnote.net (8.9.3/8.9.3) with ESMTP id UAA00879'), { ip: '195.167.25.66', rdns: 'mail.nomioan.gr', helo: 'SERVER2', by: 'webnote.net' });
  t.same(r('from dd_it7 ([210.97.77.167]) by webnote.net (8.9.3/8.9.3) with ESMTP id NAA04623'), { ip: '210.97.77.167', rdns: '', helo: 'dd_it7', by: 'webnote.net' }, 'sendmail HELO without rDNS');
  t.same(r('from keromail-com.mr.outblaze.com (203.117.141.101) by SERVER2 with SMTP; Tue, 27 Aug 2002 22:33:42 +0300'), { ip: '203.117.141.101', rdns: 'keromail-com.mr.outblaze.com', helo: 'keromail-com.mr.outblaze.com', by: 'SERVER2' }, 'qmail');
  t.same(r('from unknown (HELO pc1) (198.51.100.4) by mx.test with SMTP'), { ip: '198.51.100.4', rdns: '', helo: 'pc1', by: 'mx.test' });
  t.same(r('from mail.example.com ([192.0.2.1] helo=smtp.example.com) by mx.test with esmtp (Exim 4.96)'), { ip: '192.0.2.1', rdns: 'mail.example.com', helo: 'smtp.example.com', by: 'mx.test' }, 'Exim');
  t.same(r('from pc.example (unknown [203.0.113.5]) by gw.test (TuxHat) with ESMTP id Q1'), { ip: '203.0.113.5', rdns: '', helo: 'pc.example', by: 'gw.test' }, 'our own Received: unknown PTR is no rDNS');
  t.equal(r('from mail.webnote.net [193.120.211.219] by localhost with POP3 (fetchmail-5.9.0) for zzzz@localhost'), null, 'fetchmail hand-over skipped');
  t.equal(r('(qmail 1234 invoked by uid 500); 22 Aug 2002'), null);
  t.equal(parseReceived('from x (y [192.0.2.1]) by z with ESMTPA id 1')?.auth, 'ESMTPA');
  t.equal(parseReceived('from x (y [192.0.2.1]) by z (envelope-from <a@b.test>) id 1')?.envfrom, 'a@b.test');
  t.same(r('from mx6.airmail.net from [209.196.77.103] by mail5.airmail.net (/\\##/\\ Smail3.1.30.16 #30.56) with esmtp'), { ip: '209.196.77.103', rdns: '', helo: 'mx6.airmail.net', by: 'mail5.airmail.net' }, 'no format matched: the first [IP] with a by, and the first word as HELO, as SpamAssassin falls through');
  t.equal(r('from mx6.airmail.net from [209.196.77.103]; Tue, 10 Sep 2002'), null, 'without a by it stays unparsed');
  t.same(r('from nynej.example (65.215.21.66 [65.215.21.66]) by pad.example with SMTP (Microsoft Exchange Internet Mail Service 5.5)'), { ip: '65.215.21.66', rdns: '65.215.21.66', helo: 'nynej.example', by: 'pad.example' }, 'a bare IP in the rDNS place stays, as SpamAssassin (only unknown and [..] mean none)');
});

t.test('relayAuth and the mail fetcher marker, as Received.pm', async (t) => {
  t.equal(relayAuth('from a ([192.0.2.1]) by b with ESMTPSA id 1'), 'ESMTPSA');
  t.equal(relayAuth('from 194.125.220.138 (SquirrelMail authenticated user y) by jmason.org with HTTP'), 'HTTP', 'webmail');
  t.equal(relayAuth('from x (HELO foo) [192.0.2.1] by mail.gmx.net (mp001) with ESMTP'), 'GMX (ESMTP / mail.gmx.net)');
  t.equal(relayAuth('from a (a [192.0.2.1]) (Authenticated sender: u) by mx.b (Postfix) with ESMTP id 1'), 'Postfix');
  t.equal(relayAuth('from a (a [192.0.2.1]) by b (Postfix) with ESMTP id 1'), '');
  // SpamAssassin's corpus: the local Postfix hop above fetchmail's is no trusted relay (found_pop_fetcher_sig).
  const h = relayHeaders([
    'from localhost (localhost [127.0.0.1]) by phobos.example (Postfix) with ESMTP id 1A60A43F9B',
    'from mail.isp.example [193.120.211.219] by localhost with POP3 (fetchmail-5.9.0) for jm@localhost',
    'from 194.125.220.138 (SquirrelMail authenticated user y) by isp.example with HTTP',
  ]);
  t.same([h.trusted.map((r) => r.ip), h.untrusted.map((r) => r.ip)], [['194.125.220.138'], []], 'trust restarts below the fetch; the webmail hop is trusted (auth HTTP)');
});

t.test('relayHeaders: private or authenticated relays at the top are trusted, the first other one and all below untrusted', async (t) => {
  const h = relayHeaders([
    'from localhost (localhost [127.0.0.1]) by mx.test (Postfix) with ESMTP id AA1',
    'from relay.example (relay.example [198.51.100.2]) by mx.test with ESMTP id AA2',
    'from localhost (localhost [127.0.0.1]) by relay.example with ESMTP id AA3',
  ]);
  t.equal(h.trusted.length, 1);
  t.equal(h.untrusted.length, 2, 'a loopback relay below an untrusted one is untrusted');
  t.equal(h.headers.get('x-spam-relays-untrusted'), '[ ip=198.51.100.2 rdns=relay.example helo=relay.example by=mx.test ident= envfrom= intl=0 id=AA2 auth= msa=0 ] [ ip=127.0.0.1 rdns=localhost helo=localhost by=relay.example ident= envfrom= intl=0 id=AA3 auth= msa=0 ]');
  t.equal(h.headers.get('x-spam-relays-external'), h.headers.get('x-spam-relays-untrusted'));
  t.match(h.headers.get('x-spam-relays-trusted'), /^\[ ip=127\.0\.0\.1 .* intl=1 /);
  // SpamAssassin's inference without trusted_networks: private and authenticated hops are trusted too.
  const p = relayHeaders([
    'from www.fastmail.fm (server1.internal [10.202.2.132]) by server2.fastmail.fm with LMTP',
    'from pc (pc.lan [192.168.1.5]) (authenticated bits=0) by smtp.example with ESMTPA id BB1',
    'from laptop (dsl.example [198.51.100.7]) by pc.lan with ESMTPA id BB2',
    'from mx.sender.example (mx.sender.example [203.0.113.9]) by laptop with ESMTP id BB3',
  ]);
  t.same([p.trusted.length, p.untrusted.length], [3, 1], 'private hops, then an authenticated one, are trusted; the first other is not');
});

t.test('messageRelays: webmail\'s originating-IP headers are the oldest hop, as SpamAssassin\'s originating_ip_headers', async (t) => {
  // SpamAssassin's t/data/nice/orig_ip_hdr.eml, shortened; its X-Spam-Relays-Untrusted, as spamassassin -t prints it.
  const msg = await parseMessage(crlf([
    'Received: from dnsbltest.spamassassin.org (dnsbltest.spamassassin.org [64.142.3.173]) by probeer.bokxing.nl (Postfix) with ESMTP id YN8t6r6y41Ly',
    'X-Originating-Ip: [198.51.100.1]', 'X-Yahoo-Post-IP: not an address', 'From: a@b.example', 'Subject: x', '', 'x', '',
  ].join('\n')));
  t.equal(messageRelays(msg).headers.get('x-spam-relays-untrusted'),
    '[ ip=64.142.3.173 rdns=dnsbltest.spamassassin.org helo=dnsbltest.spamassassin.org by=probeer.bokxing.nl ident= envfrom= intl=0 id=YN8t6r6y41Ly auth= msa=0 ] [ ip=198.51.100.1 rdns= helo= by= ident= envfrom= intl=0 id= auth= msa=0 ]');
  const none = await parseMessage(crlf('Received: from a (a [192.0.2.1]) by b with SMTP id 1\nX-Originating-IP: 2001:db8::7\nSubject: x\n\nx\n'));
  t.same(messageRelays(none).untrusted.map((r) => r.ip), ['192.0.2.1', '2001:db8::7'], 'IPv6 too');
});

t.test('relayHeaders with spam.trustedNetworks: those networks, loopback and authenticated hops are trusted, private ones no longer', async (t) => {
  const chain = [
    'from localhost (localhost [127.0.0.1]) by gw.test (TuxHat) with ESMTP id CC0',
    'from edge.corp.example (edge.corp.example [198.51.100.20]) by gw.test with ESMTP id CC1',
    'from lb (lb.lan [10.1.2.3]) by edge.corp.example with ESMTP id CC2',
    'from mx.sender.example (mx.sender.example [203.0.113.9]) by lb.lan with ESMTP id CC3',
  ];
  const inferred = relayHeaders(chain);
  t.same(inferred.trusted.map((r) => r.id), ['CC0'], 'inferred: the public edge relay is where the message entered');
  const ours = relayTrustOf({ trustedNetworks: ['198.51.100.0/24'] });
  const configured = relayHeaders(chain, ours);
  t.same(configured.trusted.map((r) => r.id), ['CC0', 'CC1'], 'the configured public relay and loopback are trusted');
  t.same(configured.untrusted.map((r) => r.id), ['CC2', 'CC3'], 'a private address not in the list is not: trust stops there');
  t.match(configured.headers.get('x-spam-relays-untrusted'), /^\[ ip=10\.1\.2\.3 /);
  const withLan = relayHeaders(chain, relayTrustOf({ trustedNetworks: ['198.51.100.0/24', '10.0.0.0/8'] }));
  t.same(withLan.untrusted.map((r) => r.id), ['CC3'], 'listing the private network too trusts it');
  const none = relayHeaders([...chain.slice(0, 1), 'from pc (pc.lan [192.0.2.44]) by gw.test with ESMTPA id DD1', chain[3]!], relayTrustOf({ trustedNetworks: [] }));
  t.same(none.trusted.map((r) => r.id), ['CC0', 'DD1'], 'an empty list trusts loopback and authenticated hand-overs only');
  t.equal(relayTrustOf({}), null, 'unset: inferred');
  const v6 = relayTrustOf({ trustedNetworks: ['2001:db8::/32'] })!;
  t.same([v6('2001:db8::25'), v6('198.51.100.1')], [true, false], 'IPv6 networks; an IPv4 address is not in them');
});

t.test('a message/rfc822 part is parsed as a message: its parts are body text and MIME parts (SpamAssassin\'s t/data/nice/mime9)', async (t) => {
  const set = compileSaRules(convertSaRules([{ name: 't.cf', text: 'body FWD /forwarded words/\nrawbody RAW_FWD /<b>html/\n' }], 2).rules);
  const msg = (ct: string) => [
    'From: a@b.test', 'Subject: fwd', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="o"', '', '--o', 'Content-Type: text/plain', '', 'see below', '--o',
    `Content-Type: ${ct}`, '', 'From: c@d.test', 'Subject: inner', 'Content-Type: multipart/alternative; boundary="i"', '', '--i', 'Content-Type: text/plain', '', 'the forwarded words',
    '--i', 'Content-Type: text/html', '', '<p><b>html</b> words</p>', '--i--', '--o--', '',
  ].join('\n');
  const names = async (s: string) => saHits(set, await parseMessage(crlf(s))).map((h) => h.name).sort();
  t.same(await names(msg('message/rfc822')), ['SA_FWD', 'SA_RAW_FWD']);
  t.same(await names(msg('application/octet-stream')), [], 'another type stays an attachment');
  const m = mimeFacts(crlf(msg('message/rfc822')).toString('latin1'));
  t.same(m.parts.map((p) => p.type), ['text/plain', 'text/plain', 'text/html'], 'the rfc822 part is no leaf; its parts are');
});

t.test('part types as SpamAssassin reads them: parse_content_type, effective_type, multipart/digest', async (t) => {
  t.equal(saContentType('Text/Enriched; charset=us-ascii'), 'text/plain', 'any text type but html, calendar, x-vcard is plain text');
  t.equal(saContentType('text/calendar; method=REQUEST'), 'text/calendar');
  t.equal(saContentType('TEXT/HTML'), 'text/html');
  t.equal(saContentType(''), '');
  const types = (raw: string) => mimeFacts(crlf(raw).toString('latin1')).parts.map((p) => `${p.type}>${p.effectiveType}`);
  t.same(types('Content-Type: multipart/mixed\n\nno boundary\n'), ['text/plain>text/plain'], 'a multipart without a boundary is text/plain');
  t.same(types('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream; name="x.html"\n\n<p>hi</p>\n--b--\n'),
    ['application/octet-stream>text/html'], 'a part named *.html is rendered as HTML');
  t.same(types('Content-Type: multipart/digest; boundary=b\n\n--b\n\nFrom: a@b.test\nContent-Type: text/html\n\n<p>in the digest</p>\n--b--\n'),
    ['text/html>text/html'], 'a digest part without a type is a message (message/rfc822), parsed');
});

t.test('uri rules see the links of the Subject, the first body line for SpamAssassin', async (t) => {
  const set = compileSaRules(convertSaRules([{ name: 't.cf', text: 'uri ANY_URI /^\\w+:\\/\\//\n' }], 2).rules);
  const hit = async (s: string) => saHits(set, await parseMessage(crlf(s))).some((h) => h.name === 'SA_ANY_URI');
  t.ok(await hit('From: a@b.test\nSubject: http://example.com\n\nhello\n'), 'rspamd\'s urlinsubject.eml: SpamAssassin lists the link');
  t.notOk(await hit('From: a@b.test\nSubject: example\n\nhello\n'));
});

t.test('relay header rules and EnvelopeFrom through the evaluator', async (t) => {
  const cf = `header __RDNS_NONE X-Spam-Relays-External =~ /^[^\\]]+ rdns= /
meta RDNS_NONE __RDNS_NONE
header ENV_B EnvelopeFrom:addr =~ /\\@b\\.test$/
header MID_CASE ALL =~ /\\nMessage-Id: /
`;
  const set = compileSaRules(convertSaRules([{ name: 't.cf', text: cf }], 2).rules);
  const names = async (s: string) => saHits(set, await parseMessage(crlf(s))).map((h) => h.name).sort();
  t.same(await names('Return-Path: <x@b.test>\nReceived: from pc ([203.0.113.5]) by gw.test with SMTP id 1\nFrom: a@c.test\nMessage-Id: <1@c>\n\nx\n'), ['SA_ENV_B', 'SA_MID_CASE', 'SA_RDNS_NONE']);
  t.same(await names('Received: from pc ([203.0.113.5]) by gw.test with SMTP id 1\nReturn-Path: <x@b.test>\nFrom: a@c.test\n\nx\n'), ['SA_RDNS_NONE'],
    'a Return-Path below a Received line was added further down the path: not the envelope sender');
  t.same(await names('Return-Path: <x@b.test>\nReceived: from gw [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0)\nReceived: from pc ([203.0.113.5]) by gw.test with SMTP id 1\nX-Sender: @ (Unverified)\nFrom: a@c.test\n\nx\n'), ['SA_ENV_B', 'SA_RDNS_NONE'],
    'an X-Sender without a valid address does not make a fetched message\'s sender unknowable');
  t.same(await names('Return-Path: <x@b.test>\nReceived: from gw [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0)\nReceived: from pc ([203.0.113.5]) by gw.test with SMTP id 1\nX-Sender: y@b.test\nFrom: a@c.test\n\nx\n'), ['SA_RDNS_NONE'],
    '… one with an address does');
  t.same(await names('Received: from pc (pc.example [203.0.113.5]) by gw.test with SMTP id 1\nReturn-Path: <x@c.test>\nFrom: a@c.test\nMessage-ID: <1@c>\n\nx\n'), [], 'ALL keeps the header names\' own case');
  t.same(await names('Received: from pc (pc.example [203.0.113.5]) by gw.test (envelope-from <y@b.test>) id 1\nReturn-Path: <x@c.test>\nFrom: a@c.test\n\nx\n'), ['SA_ENV_B'], 'the last relay\'s envelope-from comes first');
});

t.test('the body as SpamAssassin renders it: every text part, HTML as HTML.pm, long paragraphs split, not cut', async (t) => {
  t.equal(htmlFacts('<html><head><title>T</title><style>p{}</style></head><body>V<b></b>iagra  <i>now</i><br>line<p>para</p>a<td>b</td>&amp;<!-- c --><script>x()</script></body></html>').rendered,
    '\n\nT\n\nViagra now\nline\n\npara\n\na b &', 'whitespace tags as HTML.pm, other tags join words, script/style/comments out');
  // HTML::Parser's markup (SpamAssassin's own t/data/spam/011): a processing instruction is dropped,
  // `</>` and `</ x>` are comments there, and a `<` before a space or `>` is text.
  const obfu = htmlFacts('V<? blah >IA<?xml pis>GR</nothing>A G</>UA</ >RA</ foo>NT</ bar >EE OPPO<>RTUNITY OPPO< >RTUNITY OPPO< /foo>RTUNITY');
  t.equal(obfu.rendered, 'VIAGRA GUARANTEE OPPO<>RTUNITY OPPO< >RTUNITY OPPO< /foo>RTUNITY');
  t.same(obfu.texts.comment, ['</>', '</ >', '</ foo>', '</ bar >'], 'the bogus end tags are comments, as HTML.pm records them');
  // A quote opens a value only after `=` (a CNET newsletter in TRAIN, hard-ham 24: its text
  // vanished up to a quote 18 KB on).
  t.equal(htmlFacts('<div style="pad: 3px;><a href="http://x.test/c?q=e5" >Gadget</a> it\'s <b title=a\'b>shown</b> <i alt="x>y">z</i>').rendered,
    "\nGadget it's shown z", 'an unclosed quoted value ends at the next quote; a quote inside an unquoted value is a character');
  t.equal(htmlFacts('<p>Microsoft&reg; fran&ccedil;ais &copy2002 c&amp d &#146; &bogus; &lt;x&gt;</p>').rendered,
    '\n\nMicrosoft® français &copy2002 c& d \u0092 &bogus; <x>\n\n', 'named entities as HTML::Parser decodes them (numeric 146 stays U+0092)');
  const hidden = htmlFacts('<p>seen</p><font color="#fff">white</font><font size="-2">tiny </font><small><small>gone</small></small> <big><small><small>big</small></small></big>');
  t.same([hidden.visible, hidden.invisible], ['\n\nseen\n\n big', 'whitetiny gone'], 'invisible text as html_font_invisible: colour, size ≤ 1, <small> and <big> steps');
  const cf = 'body BOTH /plain words.*html words/\nbody ALT_HTML /html words/\nbody FAR /needle in the haystack/\nbody START /^ lead/\n';
  const set = compileSaRules(convertSaRules([{ name: 't.cf', text: cf }], 2).rules);
  const names = async (s: string) => saHits(set, await parseMessage(crlf(s))).map((h) => h.name).sort();
  t.same(await names(alt('plain words', '<p>html words</p>')), ['SA_ALT_HTML'], 'both alternatives are body text (each its own paragraph)');
  const long = `${HDR}\n${'filler word '.repeat(600)}needle in the haystack\n`;
  t.same(await names(long), ['SA_FAR'], 'text past 2,048 characters of one paragraph is still read');
  t.same(await names(`${HDR}\n   lead words\n`), ['SA_START'], 'a paragraph keeps its leading space, as SpamAssassin (no trim)');
  // Body rules read UTF-8 bytes, as SpamAssassin's: its byte-oriented regexes match non-Latin text.
  const bytes = compileSaRules(convertSaRules([{ name: 't.cf', text: 'body HIGHBITS /(?:[\\x80-\\xff].?){4,}/\nbody CAFE /caf\\xc3\\xa9/\n' }], 2).rules);
  const cjk = `${HDR}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${Buffer.from('這是委託 café').toString('base64')}\n`;
  t.same(saHits(bytes, await parseMessage(crlf(cjk))).map((h) => h.name).sort(), ['SA_CAFE', 'SA_HIGHBITS'], 'CJK text is 8-bit bytes; é is \\xc3\\xa9');
  const subj = compileSaRules(convertSaRules([{ name: 't.cf', text: 'header SUBJ_CAFE Subject =~ /caf\\xc3\\xa9/\n' }], 2).rules);
  t.same(saHits(subj, await parseMessage(crlf(HDR.replace('hello there friend', '=?utf-8?B?Y2Fmw6k=?=') + '\nx\n'))).map((h) => h.name), ['SA_SUBJ_CAFE'],
    'a decoded header is UTF-8 bytes too, as SpamAssassin\'s');
  const latin = `${HDR}MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n${Buffer.from('caf\xe9', 'latin1').toString('base64')}\n`;
  t.equal(partText(mimeFacts(latin).parts[0]!), 'café', 'a part read in its declared charset');
  const badUtf8 = mimeFacts(`Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${Buffer.from('caf\xe9', 'latin1').toString('base64')}\n`);
  t.equal(partText(badUtf8.parts[0]!), 'café', 'undeclared 8-bit text that is no UTF-8 reads as windows-1252');
  const crlfB64 = mimeFacts(`Content-Type: text/html\nContent-Transfer-Encoding: base64\n\n${Buffer.from('<p>a</p>\r\n<p>b</p>\r\n').toString('base64')}\n`);
  t.equal(decodedBody(crlfB64.parts[0]!), '<p>a</p>\n<p>b</p>\n', 'as Node::decode, a base64 text part ends its lines in LF (HTML lengths count no CR)');
});

t.test('mimeFacts and htmlFacts', async (t) => {
  const m = mimeFacts('Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nt\r\n--i\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<b>h</b>\r\n--i--\r\n--o\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--o--\r\n');
  t.same(m.parts.map((p) => p.type), ['text/plain', 'text/html', 'application/pdf'], 'nested multiparts walked');
  t.equal(m.htmlCount, 1);
  t.equal(m.textCount, 1);
  t.equal(m.parts[1]!.charset, 'utf-8');
  t.ok(m.flags.has('mime_base64_count'));
  t.notOk(m.flags.has('mime_attachment'), 'as MIMEEval: an attachment is what its Content-Disposition calls one, not any named or non-text part');
  t.ok(mimeFacts('Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nt\r\n--o\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n\r\nJVBERg==\r\n--o--\r\n').flags.has('mime_attachment'));
  const h = htmlFacts('<html><head><title>T</title></head><body><table style="background-color: #000000"><tr><td><font color="black">x</font></td></tr></table><a href="u"><img src="i" width="10%" height="100" alt="pic"></a></body></html>');
  t.ok(h.flags.has('font_low_contrast'), 'black on a black table');
  t.notOk(htmlFacts('<body style="background-color: #000000"><font color="black">x</font></body>').flags.has('font_low_contrast'),
    'as HTML.pm\'s %ok_attributes: a style on <body> sets no colour');
  t.ok(htmlFacts('<font color="ffffff">x</font>').flags.has('font_invalid_color'), 'hex digits without # are an invalid colour (name_to_rgb)');
  t.ok(htmlFacts('<font color="blu">x</font>').flags.has('font_invalid_color'), 'so is a name HTML.pm does not know');
  t.same(['#FFF', 'lightgoldenrodyellow', 'rgb(100%, 0%, 50%)', '#12345', '#1234567', 'inherit', ''].map(colorValue),
    ['#ffffff', '#fafad2', '#ff007f', '#112233', '#123456', 'invalid', 'invalid'], 'name_to_rgb: shorthand, names, rgb(%), cut to 3 or 6');
  t.equal(h.values.image_area, 80 * 100, 'percent widths assume 800x600');
  t.same(h.texts.title, ['T']);
  t.match(h.texts.anchor[0], /<img>/);
  t.equal(h.inside.get('body'), 0);
  t.equal(htmlFacts('').flags.size, 0);
  t.ok(htmlFacts('words in a text/html part, no tags').flags.has('html'), 'a text/html part without tags is still HTML (HTML_MESSAGE), as SpamAssassin');
  t.same(m.parts.map((p) => p.alternatives), [[0], [0], []], 'the leaves inside the multipart/alternative know it');
  // Outlook-style: the inner boundary extends the outer one; only whole delimiter lines split.
  const nested = mimeFacts('Content-Type: multipart/related; boundary="=_NP9Y"\r\n\r\npreamble\r\n--=_NP9Y\r\nContent-Type: multipart/alternative; boundary="=_NP9YAA"\r\n\r\n--=_NP9YAA\r\nContent-Type: text/html\r\n\r\n<p>x --=_NP9Y inline</p>\r\n--=_NP9YAA--\r\n\r\n--=_NP9Y \r\nContent-Type: image/png\r\n\r\niVBO\r\n--=_NP9Y--\r\nepilogue\r\n');
  t.same(nested.parts.map((p) => [p.type, p.body, p.alternatives]), [['text/html', '<p>x --=_NP9Y inline</p>', [0]], ['image/png', 'iVBO', []]], 'an extended boundary is not a delimiter; the line break before one belongs to it');
  // rawbody as SpamAssassin: each text part's transfer-decoded bytes (not charset-decoded), whole up to 2 KB, then 2–4 KB chunks.
  const qp = mimeFacts('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=C3=A9</p></html>\r\n\r\nafter=\r\nwards\r\n--b\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n--b--\r\n');
  t.same(rawbodyChunks(qp), ['<p>caf\u00c3\u00a9</p></html>\n\nafterwards'], 'one string per text part: a regex sees across lines; UTF-8 stays bytes; CRLF after QP is LF (Node::decode); the image is not text');
  const long = rawbodyChunks(mimeFacts(`Content-Type: text/plain\r\n\r\n${'word '.repeat(1000)}\n${'x'.repeat(3000)}`));
  t.ok(long.length > 1 && long.every((c) => c.length <= 4096) && long.join('') === `${'word '.repeat(1000)}\n${'x'.repeat(3000)}`, 'a long part: chunks of at most 4 KB that join back to the whole');
});

t.test('metaJs: && operands cheapest first, RULE > N folded, meaning kept', async (t) => {
  const cost: Record<string, number> = { A: 1, B: 50, C: 2 };
  const js = (e: string) => metaJs(e.split(' '), (x) => x.toLowerCase(), (x) => cost[x] ?? 1);
  t.equal(js('B && ! A && C'), '! a && c && b');
  t.equal(js('( B || A ) && C'), 'c && (b || a)', '|| keeps its order');
  t.equal(js('B > 4 || A'), '0 || a', 'a 0/1 result is never > 4');
  t.equal(js('! B > 1'), '! b > 1', 'not folded where ! binds first');
  t.equal(js('A + B > 1'), 'a + b > 1', 'sums are not folded');
  // The same truth table before and after.
  for (const [a, b, c] of [[0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 1, 1]]) {
    const g = (x: string) => ({ a, b, c } as Record<string, number>)[x]!;
    const run = (src: string) => new Function('a', 'b', 'c', `return !!(${src});`)(g('a'), g('b'), g('c')) as boolean;
    t.equal(run(js('B && ! A && C')), run('b && ! a && c'));
  }
});

t.test('parseDate: RFC 5322 dates, two-digit years, comments, SpamAssassin\'s quirks', async (t) => {
  t.equal(parseDate('Thu, 22 Aug 2002 13:17:22 +0100 (IST)'), Date.UTC(2002, 7, 22, 12, 17, 22));
  t.equal(parseDate('22 Aug 02 13:17:22 GMT'), Date.UTC(2002, 7, 22, 13, 17, 22));
  t.equal(parseDate('garbage'), null);
  t.equal(parseDate(undefined), null);
  // SpamAssassin's parse_rfc822_date quirks, which its DATE_IN_PAST/FUTURE rules are tuned on.
  t.equal(parseDate('Tue, 24 Sep 2002 10:39:13 +-0500'), Date.UTC(2002, 8, 24, 10, 39, 13), 'a zone that is not " +hhmm " alone reads as UTC');
  t.equal(parseDate('Mon, 2 Sep 2002 07:13:17 EDT'), Date.UTC(2002, 8, 2, 11, 13, 17), 'a zone name it knows');
  t.equal(parseDate('Sat, 30 Feb 2002 10:00:00 +0000'), Date.UTC(2002, 2, 1, 10, 0, 0), 'a day past the month end is the 1st of the next');
  t.equal(parseDate('Sep 24 10:39:13 2002'), Date.UTC(2002, 8, 24), 'ctime order: SpamAssassin takes the time of day out with the date, so it reads midnight');
  t.equal(parseDate('1 Jan 2050 00:00:00 +0000'), Date.UTC(2037, 0, 1), 'years kept in 1970-2037');
});

t.test('requiredAlternatives: strings one of which every match contains (the prefilter for regexes without a single literal)', async (t) => {
  t.same(requiredAlternatives('(?:foo|bar)baz?'), ['foo', 'bar']);
  t.same(requiredAlternatives('(?:free|fr33) (?:offer|trial)'), ['offer', 'trial']);
  t.same(requiredAlternatives('[a-z]+@example\\.com'), ['@example.com']);
  t.same(requiredAlternatives('\\x41BC'), ['abc'], 'lower-cased, \\x escapes decoded');
  t.same(requiredAlternatives('(?:abc)?def'), ['def'], 'an optional group requires nothing');
  t.equal(requiredAlternatives('a|bcdef'), null, 'a branch without a 3-character literal: no prefilter');
  t.equal(requiredAlternatives('x(?=abcd)yz'), null, 'lookarounds require nothing');
  t.equal(requiredAlternatives('(?:ab|cdef)'), null);
  for (const [src, text] of [['(?:foo|bar)baz?', 'xx BARba'], ['(?:free|fr33) (?:offer|trial)', 'fr33 TRIAL'], ['[a-z]+@example\\.com', 'me@EXAMPLE.com']] as const) {
    t.ok(new RegExp(src, 'i').test(text) && requiredAlternatives(src)!.some((a) => text.toLowerCase().includes(a)), `${src}: a matching text passes the prefilter`);
  }
});
