/*
 * test/e2e/rules-actions.test.ts — the rules engine through the real daemon to an smtp-sink:
 * every action (tag subject, add/remove/rewrite header, reject 550/554, defer 451, discard,
 * quarantine, BCC copy, redirect, notify the postmaster, strip attachments with the quarantine
 * hand-off, set class, accept ending evaluation), time frames with an injected clock
 * (TUXHAT_RULES_CLOCK), archive-all as an extra recipient, rule hits in the verdict record and
 * `tuxhat trace`; `tuxhat rules test` and `tuxhat rules replay` against the same daemon.
 */
import t from 'tap';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { admin, adminJson, makeMessage, SmtpClient, startGateway, startSink, tempDir, tuxhat, waitFor } from './harness/index.js';
import { buildMessage } from './fixtures/mime.js';

const SITE_RULES = `
rules:
  - name: vip-partner
    priority: 999
    direction: in
    who: [ { sender: { address: vip@partner.test } } ]
    actions: [ accept ]
  - name: tag
    what: [ { subject: tagme } ]
    actions:
      - tagSubject: '[TAG]'
      - addHeader: { name: X-Rule-Tag, value: 'yes' }
      - removeHeader: X-Remove-Me
      - rewriteHeader: { name: X-Rewrite, regex: secret, replace: redacted }
      - setClass: strict
  - { name: refuse, what: [ { subject: rejectme } ], actions: [ { reject: { code: 550, text: no thanks } } ] }
  - { name: refuse-554, what: [ { subject: transactionme } ], actions: [ { reject: { code: 554, text: not here } } ] }
  - { name: later, what: [ { subject: deferme } ], actions: [ { reject: { code: 451, text: come back later } } ] }
  - { name: drop, what: [ { subject: discardme } ], actions: [ discard ] }
  - { name: hold, what: [ { subject: quarantineme } ], actions: [ { quarantine: { reason: held for review } } ] }
  - { name: copy, what: [ { subject: bccme } ], actions: [ { bcc: copy@corp.test } ] }
  - { name: elsewhere, what: [ { subject: redirectme } ], actions: [ { redirect: other@corp.test } ] }
  - name: tell
    what: [ { subject: notifyme } ]
    actions:
      - notify: { to: postmaster, subject: 'rule {{rule}} hit {{qid}}', text: 'from {{from}} subject {{subject}}' }
  - name: strip-exe
    what: [ { attachment: { name: '\\.exe$' } } ]
    actions:
      - stripAttachments: { name: '\\.exe$' }
      - addHeader: { name: X-Stripped, value: 'yes' }
  - name: office-hours
    when: [ { days: [mon, tue, wed, thu, fri], from: '09:00', to: '11:00', zone: UTC } ]
    what: [ { subject: clockme } ]
    actions: [ { addHeader: { name: X-Office, value: open } } ]
  - name: weekend
    when: [ { days: [sat, sun] } ]
    what: [ { subject: clockme } ]
    actions: [ { addHeader: { name: X-Weekend, value: 'yes' } } ]
`;

t.test('every rule action through the daemon', async (t) => {
  const dir = await tempDir(t, 'rules');
  const site = join(dir, 'site-rules');
  mkdirSync(site);
  writeFileSync(join(site, 'site.yaml'), SITE_RULES);
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    env: { TUXHAT_RULES_CLOCK: '2026-11-30T10:00:00Z' },
    config: {
      postmaster: 'postmaster@corp.test',
      authentication: { enabled: false },
      domains: {
        'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } },
        'archive.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } },
      },
      archive: { inbound: 'journal@archive.test' },
      rules: { dirs: ['builtin', site] },
      queue: { scheduleMs: [1000] },
    },
  });
  const send = async (subject: string, opts: { from?: string; message?: string | Buffer; headers?: Record<string, string> } = {}) => {
    const c = await SmtpClient.connect(gw.ports.mx!);
    await c.ehlo('client.test');
    const res = await c.send({ from: opts.from ?? 'sender@client.test', to: ['bob@corp.test'], message: opts.message ?? makeMessage({ subject, to: 'bob@corp.test', headers: opts.headers ?? {} }) });
    await c.quit();
    const qid = /queued as (\S+)/.exec(res.data?.raw.join(' ') ?? '')?.[1];
    return { res, qid, text: res.data?.raw.join(' ') ?? '' };
  };
  const arrived = async (pred: (m: Awaited<ReturnType<typeof sink.messages>>[number]) => boolean, what: string) =>
    waitFor(async () => (await sink.messages()).filter(pred).length > 0 ? (await sink.messages()).filter(pred) : undefined, { timeoutMs: 15_000, what });

  // Header actions, class of service, archive copy, rule hits in the record and the trace.
  const tag = await send('please tagme now', { headers: { 'X-Remove-Me': 'gone', 'X-Rewrite': 'a secret value' } });
  t.ok(tag.res.ok, tag.text);
  const tagged = await arrived((m) => /tagme/.test(m.get('subject') ?? ''), 'the tagged message');
  const m = tagged[0]!;
  t.equal(m.get('subject'), '[TAG] please tagme now');
  t.equal(m.get('x-rule-tag'), 'yes');
  t.equal(m.get('x-remove-me'), undefined);
  t.equal(m.get('x-rewrite'), 'a redacted value');
  t.same(tagged.flatMap((x) => x.rcptTo).sort(), ['bob@corp.test', 'journal@archive.test'], 'archive-all: one extra recipient');
  const queued = await gw.waitForLog((l) => l.event === 'queued' && l.qid === tag.qid);
  t.equal(queued.class, 'strict');
  t.match(queued.rules, [/^tag: tagSubject \[TAG\], addHeader X-Rule-Tag, removeHeader X-Remove-Me, rewriteHeader X-Rewrite, setClass strict$/]);
  await waitFor(async () => (await admin(gw, ['trace', tag.qid!])).stdout.includes('delivered') || undefined, { what: 'the delivery in the trace' });
  const trace = (await admin(gw, ['trace', tag.qid!])).stdout;
  t.match(trace, /queued .*rules=.*tag: tagSubject/);

  // Refusals answer in the session (no backscatter); a 451 is a deferral.
  const rej = await send('rejectme');
  t.equal(rej.res.data?.code, 550);
  t.match(rej.text, /5\.7\.1 Message rejected by site policy: no thanks/);
  const rej554 = await send('transactionme');
  t.equal(rej554.res.data?.code, 554);
  const later = await send('deferme');
  t.equal(later.res.data?.code, 451);
  t.match(later.text, /4\.7\.1 .*come back later/);
  // accept on a higher priority ends the evaluation: the same subject from the partner passes.
  const vip = await send('rejectme vip', { from: 'vip@partner.test' });
  t.ok(vip.res.ok, vip.text);
  await arrived((x) => x.get('subject') === 'rejectme vip', 'the accepted partner message');

  // Discard and quarantine: 250, never delivered; the quarantined message is in the quarantine store.
  const drop = await send('discardme');
  t.ok(drop.res.ok);
  const hold = await send('quarantineme');
  t.ok(hold.res.ok);
  t.match((await gw.waitForLog((l) => l.event === 'quarantined' && l.qid === hold.qid)), { action: 'quarantine', reason: 'held for review' });
  const inQuarantine = await adminJson<Array<{ qid: string; reason: string }>>(gw, ['quarantine', 'list']);
  t.ok(inQuarantine.some((e) => e.qid === hold.qid && e.reason === 'held for review'), 'quarantined message is in the quarantine');

  // Copies, redirection and notifications.
  const bcc = await send('bccme');
  const copies = await arrived((x) => x.get('subject') === 'bccme', 'the bcc message');
  t.ok(bcc.res.ok);
  t.same(copies.flatMap((x) => x.rcptTo).sort(), ['bob@corp.test', 'copy@corp.test', 'journal@archive.test']);
  await send('redirectme');
  const redirected = await arrived((x) => x.get('subject') === 'redirectme', 'the redirected message');
  t.same(redirected.flatMap((x) => x.rcptTo).sort(), ['journal@archive.test', 'other@corp.test']);
  const note = await send('notifyme');
  const notes = await arrived((x) => x.rcptTo.includes('postmaster@corp.test'), 'the notification');
  t.equal(notes[0]!.get('subject'), `rule tell hit ${note.qid}`);
  t.equal(notes[0]!.mailFrom, '', 'from the null sender: never bounced');
  t.match((await PostalMime.parse(notes[0]!.message)).text, /from sender@client\.test subject notifyme/);

  // Time frames with the injected clock (Monday 10:00 UTC).
  await send('clockme');
  const clocked = await arrived((x) => x.get('subject') === 'clockme', 'the time-frame message');
  t.equal(clocked[0]!.get('x-office'), 'open');
  t.equal(clocked[0]!.get('x-weekend'), undefined);

  // Strip attachments: delivered without the executable, the original handed to quarantine.
  const raw = await buildMessage({ from: 'sender@client.test', to: 'bob@corp.test', subject: 'stripme', text: 'see attached', attachments: [{ filename: 'tool.exe', content: 'MZ\x90\x00evil' }, { filename: 'report.pdf', content: '%PDF-1.4 fine', contentType: 'application/pdf' }] });
  const strip = await send('stripme', { message: raw });
  t.ok(strip.res.ok, strip.text);
  const stripped = await arrived((x) => x.get('subject') === 'stripme', 'the stripped message');
  t.equal(stripped[0]!.get('x-stripped'), 'yes');
  const parsed = await PostalMime.parse(stripped[0]!.message);
  t.same(parsed.attachments.map((a) => a.filename), ['report.pdf']);
  t.match(parsed.text, /see attached[\s\S]*The attachment "tool\.exe" was removed by the mail gateway \(strip-exe\)/);
  const sq = await gw.waitForLog((l) => l.event === 'queued' && l.qid === strip.qid);
  t.equal(sq.quarantineOriginal, 'attachments stripped by rule strip-exe', 'the verdict record carries the quarantine hand-off');
  t.match(sq.transforms, ['stripped tool.exe (application/octet-stream) by strip-exe']);
  const originalQid = sq.quarantinedOriginal as string;
  t.ok(originalQid, 'the verdict record names the quarantined original');
  const original = await adminJson<{ record: { reason: string; verdict: Record<string, unknown> } }>(gw, ['quarantine', 'show', originalQid, '--json']);
  t.equal(original.record.reason, 'attachments stripped by rule strip-exe');
  t.equal(original.record.verdict.originalOf, strip.qid, 'the quarantined copy points at the delivered message');
  const released = await admin(gw, ['quarantine', 'release', originalQid]);
  t.equal(released.code, 0, released.stderr);
  const unstripped = await arrived((x) => x.get('subject') === 'stripme' && x.message.includes('tool.exe') && !x.get('x-stripped'), 'the released original');
  t.same((await PostalMime.parse(unstripped[0]!.message)).attachments.map((a) => a.filename).sort(), ['report.pdf', 'tool.exe'], 'the original, attachments intact');

  // The journal is not an inbox: mail from outside to the archive address is refused.
  const c = await SmtpClient.connect(gw.ports.mx!);
  await c.ehlo('client.test');
  const toJournal = await c.send({ from: 'x@client.test', to: ['journal@archive.test'], message: makeMessage({ to: 'journal@archive.test' }) });
  await c.quit();
  t.equal(toJournal.data?.code, 550, 'archive address refused from outside');

  // The discarded message never arrived.
  t.equal((await sink.messages()).filter((x) => x.get('subject') === 'discardme').length, 0);

  // Dry run and replay use the same rule files; neither sends anything.
  const before = (await sink.messages()).length;
  const msgFile = join(dir, 'test.eml');
  writeFileSync(msgFile, makeMessage({ subject: 'please tagme', to: 'bob@corp.test' }));
  const dry = await tuxhat(['rules', 'test', msgFile, '--config', gw.configFile, '--from', 'x@client.test', '--to', 'bob@corp.test', '--ip', '198.51.100.1', '--at', '2026-11-29T10:00:00Z']);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /match\s+tag\s+\(.*site\.yaml\)\n\s+→ tagSubject \[TAG\]/);
  t.match(dry.stdout, /header: prepend Subject: \[TAG\] please tagme/);
  t.match(dry.stdout, /nothing was sent/);
  const replayRules = join(dir, 'replay.yaml');
  writeFileSync(replayRules, 'rules:\n  - { name: from-client, who: [ { sender: { domain: client.test } } ], actions: [ { score: 1 } ] }\n  - { name: by-subject, what: [ { subject: x } ], actions: [ { score: 1 } ] }\n  - { name: tagged-before, who: [ { listener: mx } ], actions: [ { score: 1 } ] }\n');
  const replay = await tuxhat(['rules', 'replay', '--config', gw.configFile, '--since', '1h', '--rules', replayRules, '--json']);
  t.equal(replay.code, 0, replay.stderr);
  const rep = JSON.parse(replay.stdout) as { messages: number; rules: Record<string, { now: number; unjudged: number }> };
  t.equal(rep.messages, 8, 'one verdict record per accepted message, quarantined included (not the discarded one, nor notifications, kept originals or releases)');
  t.equal(rep.rules['from-client']!.now, rep.messages - 1, 'every message but the partner one came from client.test');
  t.equal(rep.rules['by-subject']!.unjudged, rep.messages, 'subjects are not in the records: not judged');
  t.equal(rep.rules['tagged-before']!.now, rep.messages, 'the record keeps the listener');
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await sink.messages()).length, before, 'rules test and replay sent nothing');
});
