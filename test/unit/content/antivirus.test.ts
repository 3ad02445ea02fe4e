/*
 * Unit tests of content/checks/antivirus.ts with a fake scanner (setScanner): what counts as
 * "not scanned" (null verdict, an error such as EPIPE, our deadline, a message over the limit),
 * the per-direction onUnscanned/onVirus settings, the forged-header removal, the `av` log value,
 * the size limit derived from the listeners, and the scores file covering exactly the symbols.
 * Also verdict/decide with AV_VIRUS: 554 AV_VIRUS in the session, or quarantine per config.
 * The real clamd is exercised in test/e2e/antivirus.test.ts.
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { ANTIVIRUS_SYMBOLS, antivirusActive, antivirusStartupMessage, avLogValue, avPolicy, evaluateScan, maxScanBytes, scanMessage, setScanner } from '../../../gateway/src/content/checks/antivirus.js';
import { loadContentScores } from '../../../gateway/src/content/index.js';
import { REPLIES } from '../../../gateway/src/core/index.js';
import { decide } from '../../../gateway/src/verdict/index.js';

const config = parseConfig({ antivirus: { enabled: true, socket: '/nonexistent/clamd.sock', timeoutMs: 300 } });
const open = () => Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]);
const scores = loadContentScores();
const score = (n: string) => scores.antivirus.score(n);

t.afterEach(() => setScanner(null));

t.test('scanMessage: clean, infected, and every kind of "not scanned"', async (t) => {
  setScanner(async () => ({ isInfected: false, viruses: [] }));
  t.same(await scanMessage(config, 100, open), { status: 'clean' });
  setScanner(async () => ({ isInfected: true, viruses: ['Eicar-Signature'] }));
  t.same(await scanMessage(config, 100, open), { status: 'infected', virus: 'Eicar-Signature' });
  setScanner(async () => ({ isInfected: null, viruses: [], resultString: 'COMMAND READ TIMED OUT' }));
  t.match(await scanMessage(config, 100, open), { status: 'unscanned', reason: /no verdict: COMMAND READ TIMED OUT/ });
  setScanner(async () => { throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }); });
  t.match(await scanMessage(config, 100, open), { status: 'unscanned', reason: /EPIPE/ });
  let destroyed = false;
  setScanner((body) => {
    body.on('close', () => { destroyed = true; });
    return new Promise(() => undefined);
  });
  const started = Date.now();
  t.match(await scanMessage(config, 100, open), { status: 'unscanned', reason: /did not answer within 300 ms/ });
  t.ok(Date.now() - started < 1000, 'our own deadline');
  await new Promise((r) => setImmediate(r));
  t.ok(destroyed, 'the input is destroyed on the deadline');
  let called = false;
  setScanner(async () => { called = true; return { isInfected: false, viruses: [] }; });
  t.match(await scanMessage(config, maxScanBytes(config) + 1, open), { status: 'unscanned', reason: /over the scan limit/ });
  t.notOk(called, 'an oversize message is not sent to clamd (it would get EPIPE)');
});

t.test('maxScanBytes follows the largest listener limit unless set', async (t) => {
  t.equal(maxScanBytes(parseConfig({})), 25 * 1024 * 1024 + 64 * 1024);
  t.equal(maxScanBytes(parseConfig({ listeners: { mx: { kind: 'mx', port: 25, maxMessageBytes: 1000 }, s: { kind: 'submission', port: 587, maxMessageBytes: 5000 } } })), 5000 + 64 * 1024);
  t.equal(maxScanBytes(parseConfig({ antivirus: { maxBytes: 123 } })), 123);
});

t.test('evaluateScan: hits, 451 AV_TEMPFAIL by default, pass with a header when configured per direction', async (t) => {
  const av = parseConfig({ antivirus: { outbound: { onUnscanned: 'pass' } } }).antivirus;
  t.same(evaluateScan({ status: 'clean' }, av, 'inbound', score), { hits: [], headerEdits: [{ op: 'remove', name: 'X-TuxHat-Virus-Scan' }] });
  t.match(evaluateScan({ status: 'infected', virus: 'V' }, av, 'inbound', score), { hits: [{ name: 'AV_VIRUS', score: 100, detail: 'V' }] });
  const deferred = evaluateScan({ status: 'unscanned', reason: 'clamd: ECONNREFUSED' }, av, 'inbound', score);
  t.equal(deferred.tempfail, 'AV_TEMPFAIL');
  t.same(deferred.hits, [{ name: 'AV_UNSCANNED', score: 0, detail: 'clamd: ECONNREFUSED' }]);
  const passed = evaluateScan({ status: 'unscanned', reason: 'x\r\ny' }, av, 'outbound', score);
  t.equal(passed.tempfail, undefined, 'outbound passes (configured)');
  t.same(passed.headerEdits, [{ op: 'remove', name: 'X-TuxHat-Virus-Scan' }, { op: 'prepend', name: 'X-TuxHat-Virus-Scan', value: 'unscanned (x y)' }]);
  t.same(REPLIES.AV_TEMPFAIL, { code: 451, enhanced: '4.7.1', text: 'Content scan temporarily unavailable, try again later' });
  t.same(avPolicy(parseConfig({ antivirus: { onVirus: 'quarantine', inbound: { onVirus: 'reject' } } }).antivirus, 'outbound'), { onVirus: 'quarantine', onUnscanned: 'defer' });
});

t.test('a class of service overrides the per-direction and global antivirus settings', async (t) => {
  const config = parseConfig({ antivirus: { inbound: { onVirus: 'reject' } }, classes: { default: {}, lab: { domains: ['lab.test'], antivirus: { onVirus: 'quarantine', onUnscanned: 'pass' } } } });
  t.same(avPolicy(config.antivirus, 'inbound', config.classes['lab']!.antivirus), { onVirus: 'quarantine', onUnscanned: 'pass' });
  t.same(avPolicy(config.antivirus, 'inbound', config.classes['default']!.antivirus), { onVirus: 'reject', onUnscanned: 'defer' });
  const passed = evaluateScan({ status: 'unscanned', reason: 'clamd: timeout' }, config.antivirus, 'inbound', score, config.classes['lab']!.antivirus);
  t.equal(passed.tempfail, undefined, 'the lab class passes unscanned mail with the header');
  t.equal(evaluateScan({ status: 'unscanned', reason: 'clamd: timeout' }, config.antivirus, 'inbound', score).tempfail, 'AV_TEMPFAIL');
});

t.test('enabled: auto decides once per process; the start-up line says whether antivirus is off', async (t) => {
  const auto = parseConfig({ antivirus: { socket: '/nonexistent/clamd.ctl' } }).antivirus;
  t.notOk(antivirusActive(auto));
  t.match(antivirusStartupMessage(auto).message, /antivirus is OFF: no clamd socket at \/nonexistent\/clamd\.ctl/);
  t.match(antivirusStartupMessage(parseConfig({ antivirus: { enabled: false } }).antivirus).message, /antivirus is OFF \(antivirus\.enabled: false\)/);
  t.ok(antivirusActive(parseConfig({ antivirus: { host: '127.0.0.1' } }).antivirus), 'a TCP clamd counts as configured');
  t.equal(avLogValue([], config), 'clean');
  t.equal(avLogValue([{ name: 'AV_VIRUS', score: 100, detail: 'V' }], config), 'infected (V)');
  t.equal(avLogValue([{ name: 'AV_UNSCANNED', score: 0 }], config), 'unscanned');
  t.equal(avLogValue([], parseConfig({ antivirus: { enabled: false } })), 'off');
});

t.test('the scores file scores exactly the emitted symbols', async (t) => {
  for (const s of ANTIVIRUS_SYMBOLS) t.type(scores.antivirus.score(s), 'number', s);
  t.same(scores.antivirus.names().sort(), [...ANTIVIRUS_SYMBOLS].sort());
});

t.test('decide: a virus is rejected 554 AV_VIRUS (even if another check tempfailed) or quarantined', async (t) => {
  const hits = [{ name: 'AV_VIRUS', score: 100, detail: 'Eicar' }];
  t.match(decide({ direction: 'inbound', hits, tempfail: true, tempfailReply: 'AUTH_TEMPFAIL' }), { action: 'reject', reply: 'AV_VIRUS', detail: 'Eicar', headerEdits: [] });
  t.same(REPLIES.AV_VIRUS, { code: 554, enhanced: '5.7.1', text: 'Message rejected: virus found' });
  const edits = [{ op: 'prepend' as const, name: 'Authentication-Results', value: 'gw; spf=pass' }];
  t.match(decide({ direction: 'outbound', hits, tempfail: false, onVirus: 'quarantine', headerEdits: edits }), { action: 'quarantine', detail: 'virus Eicar', headerEdits: edits });
  t.match(decide({ direction: 'inbound', hits: [{ name: 'AV_UNSCANNED', score: 0 }], tempfail: true, tempfailReply: 'AV_TEMPFAIL' }), { action: 'defer', reply: 'AV_TEMPFAIL' });
});
