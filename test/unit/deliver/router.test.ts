/* deliver/router.ts: relay-domain routes, outbound MX routes with TLS overrides, smarthost mode. Pure. */
import t from 'tap';
import { createRouter } from '../../../gateway/src/deliver/index.js';
import { testConfig } from './fixtures/job.js';

const config = testConfig({
  domains: {
    'example.test': { route: { transport: 'maildir', path: './var/mail' } },
    'corp.test': { route: { transport: 'smtp', hosts: ['127.0.0.1:2526', 'mail2.corp.test'], tls: 'none' } },
    'auth.test': { route: { transport: 'smtp', hosts: ['[::1]:2527'], auth: { user: 'gw', passwordFile: '/etc/pw' } } },
    'xn--bcher-kva.test': { route: { transport: 'maildir', path: './var/idn' } },
  },
  outbound: { tls: 'may', tlsPolicy: { 'partner.test': 'verify' } },
});

t.test('relay domains take their own route', async (t) => {
  const r = createRouter(config);
  t.same(r.routeFor('user@example.test'), { kind: 'maildir', key: 'maildir:./var/mail', path: './var/mail' });
  t.same(r.routeFor('User@EXAMPLE.Test'), r.routeFor('user@example.test'), 'domain is case-folded');
  t.same(r.routeFor('a@corp.test'), {
    kind: 'smtp', key: 'smtp:[127.0.0.1]:2526,mail2.corp.test:25', hosts: ['127.0.0.1:2526', 'mail2.corp.test'], tls: 'none',
  });
  t.same(r.routeFor('a@auth.test'), {
    kind: 'smtp', key: 'smtp:[::1]:2527', hosts: ['[::1]:2527'], tls: 'may', auth: { user: 'gw', passwordFile: '/etc/pw' },
  });
  t.equal(r.routeFor('a@bücher.test').key, 'maildir:./var/idn', 'an IDN matches its A-label');
  t.equal(r.routeFor('a@example.test.').key, 'maildir:./var/mail', 'trailing dot ignored');
  t.equal(r.routeFor('postmaster').key, 'mx:gw.example.test', 'no domain: our hostname');
});

t.test('other domains go outbound by MX with the TLS policy', async (t) => {
  const r = createRouter(config);
  t.same(r.routeFor('x@Example.COM'), { kind: 'mx', key: 'mx:example.com', domain: 'example.com', tls: 'may' });
  t.same(r.routeFor('x@partner.test'), { kind: 'mx', key: 'mx:partner.test', domain: 'partner.test', tls: 'verify' });
  t.same(r.routeFor('x@sub.example.test'), { kind: 'mx', key: 'mx:sub.example.test', domain: 'sub.example.test', tls: 'may' }, 'no subdomain matching');
  t.equal(r.routeFor('x@bücher.example').key, 'mx:xn--bcher-kva.example', 'MX lookups use the A-label');
  t.equal(r.routeFor('"a@b"@example.com').key, 'mx:example.com', 'the domain is after the last @');
});

t.test('smarthost mode sends every other domain to outbound.hosts', async (t) => {
  const r = createRouter(testConfig({ outbound: { mode: 'smarthost', hosts: ['[10.0.0.1]:587', 'relay.test'], tls: 'encrypt' } }));
  const route = r.routeFor('x@example.com');
  t.same(route, { kind: 'smtp', key: 'smtp:[10.0.0.1]:587,relay.test:25', hosts: ['[10.0.0.1]:587', 'relay.test'], tls: 'encrypt' });
  t.equal(r.routeFor('y@example.org'), route, 'one shared route, one key');
  t.equal(r.routeFor('y@example.test').kind, 'maildir', 'relay domains still win');
});
