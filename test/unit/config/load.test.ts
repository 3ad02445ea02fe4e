import t from 'tap';
import { ConfigError, loadConfigText, parseConfig } from '../../../gateway/src/config/index.js';

t.test('embedded defaults are the documented development config', async (t) => {
  const c = parseConfig({});
  t.equal(c.listeners.mx?.port, 2525);
  t.equal(c.listeners.mx?.address, '127.0.0.1');
  t.equal(c.listeners.submission?.port, 2587);
  t.equal(c.admin.socket, './var/run/tuxhat.sock');
  t.same(c.domains['example.test']?.route, { transport: 'maildir', path: './var/mail' });
  t.equal(c.paths.spool, './var/spool');
  t.ok(Object.isFrozen(c.listeners), 'config is frozen');
});

t.test('errors name the file, the line and the field', async (t) => {
  const text = ['hostname: gw.test', 'listeners:', '  mx:', '    kind: mx', '    port: 70000', '    colour: blue', 'domains:', '  corp.test:', '    route: { transport: smtp, hosts: [] }', ''].join('\n');
  const err = t.throws(() => loadConfigText(text, '/etc/tuxhat/gateway.yaml')) as unknown as ConfigError;
  t.equal(err.name, 'ConfigError');
  t.match(err.message, /gateway\.yaml:5: listeners\.mx\.port: .*65535/);
  t.match(err.message, /gateway\.yaml:6: listeners\.mx: Unrecognized key: "colour"/);
  t.match(err.message, /gateway\.yaml:9: domains\.corp\.test\.route\.hosts/);
});

t.test('YAML syntax errors carry the line', async (t) => {
  const err = t.throws(() => loadConfigText('hostname: a\nlisteners: [\n', 'x.yaml')) as unknown as Error;
  t.match(err.message, /x\.yaml:\d+: YAML syntax/);
});

t.test('duplicate keys are refused rather than silently merged', async (t) => {
  t.throws(() => loadConfigText('hostname: a\nhostname: b\n', 'dup.yaml'), /dup\.yaml:\d+: YAML syntax/);
});

t.test('a valid file with nested defaults fills the rest', async (t) => {
  const c = loadConfigText('listeners:\n  relay:\n    kind: relay\n    port: 2526\n    trustedNetworks: [10.0.0.0/8, "::1"]\n', 'ok.yaml');
  t.equal(c.listeners.relay?.maxRecipients, 100);
  t.same(c.listeners.relay?.trustedNetworks, ['10.0.0.0/8', '::1']);
  t.notOk(c.listeners.mx, 'listeners given replace the default set');
  t.throws(() => loadConfigText('listeners:\n  relay:\n    kind: relay\n    port: 2526\n    trustedNetworks: [10.0.0.0/33]\n', 'bad.yaml'), /bad\.yaml:5: listeners\.relay\.trustedNetworks\[0\]/);
});

t.test('cross-field rules name the field', async (t) => {
  const text = ['listeners:', '  a: { kind: mx, port: 2525 }', '  b: { kind: relay, port: 2525 }', '  s: { kind: submission, port: 2587, tls: none }', 'outbound: { mode: smarthost }', ''].join('\n');
  const err = t.throws(() => loadConfigText(text, 'x.yaml')) as unknown as Error;
  t.match(err.message, /x\.yaml:3: listeners\.b\.port: 127\.0\.0\.1:2525 is already used by listener a/);
  t.match(err.message, /x\.yaml:4: listeners\.s\.tls: a submission listener without TLS/);
  t.match(err.message, /x\.yaml:5: outbound\.hosts: smarthost mode needs at least one host/);
});

t.test('spam.trustedNetworks: unset means inferred, a bad entry names its line', async (t) => {
  t.equal(parseConfig({}).spam.trustedNetworks, undefined, 'unset by default: SpamAssassin\'s inference');
  t.same(loadConfigText('spam:\n  trustedNetworks: []\n', 'empty.yaml').spam.trustedNetworks, [], 'an empty list is a setting (loopback only)');
  t.throws(() => loadConfigText('spam:\n  trustedNetworks:\n    - 198.51.100.0/24\n    - relay.corp.test\n', 'trust.yaml'), /trust\.yaml:4: spam\.trustedNetworks\[1\]: expected an IP address or CIDR/);
});
