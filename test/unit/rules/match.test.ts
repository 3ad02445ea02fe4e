/*
 * Unit tests of rule matching and evaluation (rules/match.ts, evaluate.ts): who / what / when,
 * any / all / invert / not, unjudged facts (replay), action order and precedence, header edits.
 */
import t from 'tap';
import { buildRuleSet, evaluateRules, parseRuleFile, type RuleFacts } from '../../../gateway/src/rules/index.js';

const facts = (over: Partial<RuleFacts> = {}): RuleFacts => ({
  direction: 'inbound', listener: 'mx', clientIp: '203.0.113.7', authUser: null, mailFrom: 'boss@corp.test',
  recipients: ['bob@corp.test'], headers: [{ name: 'From', value: 'Boss <boss@corp.test>' }, { name: 'Subject', value: 'Invoice 42' }],
  size: 1000, hits: [], auth: { spf: 'fail', dkim: 'none', dmarc: 'fail', arc: 'none' }, now: new Date('2026-11-30T10:00:00Z'),
  localDomains: new Set(['corp.test']), content: { text: 'hello world', attachments: [{ filename: 'a.pdf.exe', contentType: 'application/octet-stream' }, { filename: 'inner.js', contentType: 'application/octet-stream', inZip: 'x.zip' }], notes: [] },
  ...over,
});
const ctx = { qid: 'Q1', postmaster: 'postmaster@corp.test' };
const rules = (yaml: string) => buildRuleSet([{ file: 'test.yaml', rules: parseRuleFile(yaml, 'test.yaml') }]);
const names = (yaml: string, f = facts()) => evaluateRules(rules(yaml), f, ctx).matched.map((m) => m.rule);

t.test('who: sender domain incl. $local, recipient, client CIDR, authenticated, listener', async (t) => {
  const y = `rules:
  - { name: local-sender, who: [ { sender: { domain: $local } } ], actions: [ { score: 1 } ] }
  - { name: sub-domain, who: [ { sender: { domain: test } } ], actions: [ { score: 1 } ] }
  - { name: rcpt-regex, who: [ { recipient: { regex: '^bob@' } } ], actions: [ { score: 1 } ] }
  - { name: net, who: [ { clientIp: 203.0.113.0/24 } ], actions: [ { score: 1 } ] }
  - { name: other-net, who: [ { clientIp: [10.0.0.0/8, '2001:db8::/32'] } ], actions: [ { score: 1 } ] }
  - { name: authed, who: [ { authenticated: true } ], actions: [ { score: 1 } ] }
  - { name: unauthed, who: [ { authenticated: false } ], actions: [ { score: 1 } ] }
  - { name: on-mx, who: [ { listener: mx } ], actions: [ { score: 1 } ] }
  - { name: from-header, who: [ { from: { address: BOSS@corp.test } } ], actions: [ { score: 1 } ] }
`;
  t.same(names(y), ['local-sender', 'sub-domain', 'rcpt-regex', 'net', 'unauthed', 'on-mx', 'from-header']);
});

t.test('what: headers present/absent/regex, subject, body, attachments (zip), size, score, symbols, virus, auth', async (t) => {
  const y = `rules:
  - { name: h-present, what: [ { header: { name: subject } } ], actions: [ stop ] , priority: 10}
  - { name: h-absent, what: [ { header: { name: Message-ID, present: false } } ], actions: [ { score: 0 } ] }
  - { name: h-regex-miss, what: [ { header: { name: From, regex: 'nobody' } } ], actions: [ { score: 0 } ] }
  - { name: subj, what: [ { subject: '^invoice' } ], actions: [ { score: 0 } ] }
  - { name: body, what: [ { body: 'hello' } ], actions: [ { score: 0 } ] }
  - { name: double-ext, what: [ { attachment: { name: '\\.pdf\\.exe$' } } ], actions: [ { score: 0 } ] }
  - { name: js-direct, what: [ { attachment: { name: '\\.js$', inZip: false } } ], actions: [ { score: 0 } ] }
  - { name: js-in-zip, what: [ { attachment: { name: '\\.js$', onlyInZip: true } } ], actions: [ { score: 0 } ] }
  - { name: big, what: [ { size: { min: 5000 } } ], actions: [ { score: 0 } ] }
  - { name: small, what: [ { size: { max: 5000 } } ], actions: [ { score: 0 } ] }
  - { name: virus, what: [ { virus: true } ], actions: [ { score: 0 } ] }
  - { name: sym, what: [ { symbol: [ SPF_FAIL, X_Y ] } ], actions: [ { score: 0 } ] }
  - { name: spf, what: [ { auth: { spf: [fail, softfail], dkim: none } } ], actions: [ { score: 0 } ] }
`;
  t.same(names(y, facts({ hits: [{ name: 'SPF_FAIL', score: 2 }] })), ['h-absent', 'subj', 'body', 'double-ext', 'js-in-zip', 'small', 'sym', 'spf', 'h-present'], 'priority 10 runs last');
  t.same(names(y, facts({ hits: [{ name: 'AV_VIRUS', score: 0, detail: 'Eicar' }] })).includes('virus'), true);
});

t.test('score ranges see the content hits plus earlier score actions', async (t) => {
  const y = `rules:
  - { name: first, priority: 90, actions: [ { score: 4 } ] }
  - { name: high, priority: 10, what: [ { score: { min: 5 } } ], actions: [ { tagSubject: '[SPAM]' } ] }
`;
  const o = evaluateRules(rules(y), facts({ hits: [{ name: 'X_Y', score: 1.5 }] }), ctx);
  t.same(o.matched.map((m) => m.rule), ['first', 'high']);
  t.same(o.hits, [{ name: 'RULE_FIRST', score: 4, detail: 'first' }]);
  t.same(o.headerEdits, [{ op: 'remove', name: 'Subject' }, { op: 'prepend', name: 'Subject', value: '[SPAM] Invoice 42' }]);
  t.same(names(y, facts()), ['first'], 'below the threshold without the content score');
});

t.test('all / any / invert / not, like PMG object groups', async (t) => {
  const y = `rules:
  - name: all-two
    what: { all: [ { subject: invoice }, { attachment: { name: exe$ } } ] }
    actions: [ { score: 0 } ]
  - name: all-fails
    what: { all: [ { subject: invoice }, { attachment: { name: docx$ } } ] }
    actions: [ { score: 0 } ]
  - name: inverted
    what: { any: [ { attachment: { name: docx$ } } ], invert: true }
    actions: [ { score: 0 } ]
  - name: not-local
    who: [ { sender: { domain: $local }, not: true } ]
    actions: [ { score: 0 } ]
`;
  t.same(names(y), ['all-two', 'inverted']);
  t.same(names(y, facts({ mailFrom: 'x@elsewhere.test' })), ['all-two', 'inverted', 'not-local']);
});

t.test('when: days, hours across midnight, time zones (injected clock)', async (t) => {
  const y = `rules:
  - { name: office, when: [ { days: [mon, tue, wed, thu, fri], from: '08:00', to: '18:00', zone: Europe/Berlin } ], actions: [ { score: 0 } ] }
  - { name: night, when: [ { from: '22:00', to: '06:00', zone: UTC } ], actions: [ { score: 0 } ] }
  - { name: weekend, when: [ { days: [sat, sun] } ], actions: [ { score: 0 } ] }
`;
  t.same(names(y, facts({ now: new Date('2026-11-30T10:00:00Z') })), ['office'], 'Monday 11:00 in Berlin');
  t.same(names(y, facts({ now: new Date('2026-11-30T17:30:00Z') })), [], 'Monday 18:30 in Berlin: closed');
  t.same(names(y, facts({ now: new Date('2026-11-28T23:30:00Z') })), ['night', 'weekend'], 'Saturday night');
  t.same(names(y, facts({ now: new Date('2026-12-01T05:59:00Z') })), ['night']);
});

t.test('unknown facts (replay without headers or body) are unjudged, never matched', async (t) => {
  const y = `rules:
  - { name: subj, what: [ { subject: invoice } ], actions: [ { score: 0 } ] }
  - { name: attach, what: [ { attachment: { name: exe } } ], actions: [ { score: 0 } ] }
  - { name: sender-or-subject, what: [ { subject: invoice } ], who: [ { sender: { domain: nowhere.test } } ], actions: [ { score: 0 } ] }
  - { name: any-with-true, what: [ { subject: invoice }, { size: { max: 5000 } } ], actions: [ { score: 0 } ] }
`;
  const o = evaluateRules(rules(y), facts({ headers: null, content: null }), ctx);
  t.same(o.matched.map((m) => m.rule), ['any-with-true']);
  t.same(o.unjudged, ['subj', 'attach'], 'a rule whose judged part fails is simply no match');
});

t.test('actions: order, accept and stop end evaluation, reject > quarantine > discard, edits and copies', async (t) => {
  const y = `rules:
  - name: tag
    priority: 90
    actions:
      - addHeader: { name: X-A, value: '1' }
      - rewriteHeader: { name: Subject, regex: '\\d+', replace: N }
      - bcc: Archive@corp.test
      - setClass: strict
      - notify: { to: postmaster, subject: 'hit {{rule}} {{qid}}', text: 'from {{from}} subject {{subject}}' }
      - disclaimer: { text: footer }
      - stripAttachments: { name: '\\.exe$' }
  - { name: q, priority: 80, actions: [ quarantine ] }
  - { name: d, priority: 70, actions: [ discard ] }
  - { name: stopper, priority: 60, actions: [ stop ] }
  - { name: never, priority: 50, actions: [ { reject: { text: no } } ] }
`;
  const o = evaluateRules(rules(y), facts(), ctx);
  t.same(o.matched.map((m) => m.rule), ['tag', 'q', 'd', 'stopper']);
  t.equal(o.final, 'quarantine');
  t.same(o.headerEdits, [{ op: 'prepend', name: 'X-A', value: '1' }, { op: 'remove', name: 'Subject' }, { op: 'prepend', name: 'Subject', value: 'Invoice N' }]);
  t.same(o.bcc, ['archive@corp.test']);
  t.equal(o.classOfService, 'strict');
  t.same(o.notifications, [{ to: 'postmaster@corp.test', rule: 'tag', subject: 'hit tag Q1', text: 'from boss@corp.test subject Invoice 42' }]);
  t.match(o.bodyTransforms, [{ op: 'disclaimer', text: 'footer' }, { op: 'strip-attachments', names: ['\\.exe$'] }]);
  t.same(o.quarantineOriginal, { reason: 'attachments stripped by rule tag', rules: ['tag'] });
  const r = evaluateRules(rules(`rules:\n  - { name: a, priority: 90, actions: [ quarantine ] }\n  - { name: b, actions: [ { reject: { code: 554, text: go away } } ] }\n  - { name: c, priority: 1, actions: [ accept ] }\n`), facts(), ctx);
  t.equal(r.final, 'reject');
  t.same(r.reject, { reply: 'RULE_REJECT_TRANSACTION', text: 'go away' });
  t.same(r.matched.map((m) => m.rule), ['a', 'b']);
  const acc = evaluateRules(rules(`rules:\n  - { name: a, priority: 90, actions: [ accept ] }\n  - { name: b, actions: [ quarantine ] }\n`), facts(), ctx);
  t.equal(acc.final, 'accept');
});

t.test('direction and enabled; a later file replaces a rule by name', async (t) => {
  const a = parseRuleFile('rules:\n  - { name: x, direction: out, actions: [ { score: 1 } ] }\n  - { name: y, actions: [ { score: 1 } ] }\n  - { name: z, enabled: false, actions: [ { score: 1 } ] }\n', 'a.yaml');
  const b = parseRuleFile('rules:\n  - { name: y, enabled: false, actions: [ stop ] }\n', 'b.yaml');
  const set = buildRuleSet([{ file: 'a.yaml', rules: a }, { file: 'b.yaml', rules: b }]);
  t.same(set.rules.map((r) => r.name), ['x']);
  t.same([...set.disabled].sort(), ['y', 'z']);
  t.same(evaluateRules(set, facts(), ctx).matched, []);
  t.same(evaluateRules(set, facts({ direction: 'outbound' }), ctx).matched.map((m) => m.rule), ['x']);
});
