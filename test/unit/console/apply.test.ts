/*
 * test/unit/console/apply.test.ts — console/apply.ts: a change the daemon refuses (or cannot be
 * asked about) is rolled back, so gateway.yaml and the running daemon never disagree; appliance
 * changes are rolled back when the firewall check fails. Uses the fake backend on a temp dir.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReloadResult } from '../../../gateway/src/admin/index.js';
import { applyAppliance, applyGateway } from '../../../gateway/src/console/apply.js';
import { addRelayDomain, setApplianceKey } from '../../../gateway/src/console/edits.js';
import { FakeBackend } from '../../../gateway/src/console/fake-backend.js';

const GATEWAY = 'hostname: gw.example.test # ours\ndomains:\n  example.test:\n    route: {transport: maildir, path: ./var/mail}\n';

function setup(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tuxhat-apply-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'gateway.yaml'), GATEWAY);
  chmodSync(join(dir, 'gateway.yaml'), 0o640);
  writeFileSync(join(dir, 'appliance.yaml'), '');
  return dir;
}

class Refusing extends FakeBackend {
  override async reload(): Promise<ReloadResult> { return { ok: false, error: 'listeners.mx.port: 25 is already in use' }; }
}
class Unreachable extends FakeBackend {
  override async reload(): Promise<ReloadResult> { throw new Error('cannot reach the gateway at /run/tuxhat/tuxhat.sock: is it running?'); }
}
class BadFirewall extends FakeBackend {
  override async applyFirewall(): Promise<void> { throw new Error('nft: syntax error'); }
}

t.test('accepted change: written atomically with the old mode, reloaded', async (t) => {
  const dir = setup(t);
  const b = new FakeBackend(dir);
  const edit = addRelayDomain(GATEWAY, b.gatewayFile, 'new.example', ['10.0.0.5:25'], 'may');
  t.equal(await applyGateway(b, edit.text), 'saved and reloaded');
  t.match(readFileSync(b.gatewayFile, 'utf8'), /new\.example:/);
  t.match(readFileSync(b.gatewayFile, 'utf8'), /# ours/, 'comment kept');
  t.equal(statSync(b.gatewayFile).mode & 0o777, 0o640, 'mode kept');
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
});

for (const [name, Cls, why] of [['refused', Refusing, /already in use/], ['unreachable', Unreachable, /is it running/]] as const) {
  t.test(`reload ${name}: the previous file is restored and the reason shown`, async (t) => {
    const dir = setup(t);
    const b = new Cls(dir);
    const edit = addRelayDomain(GATEWAY, b.gatewayFile, 'new.example', ['10.0.0.5:25'], 'may');
    await t.rejects(applyGateway(b, edit.text), why);
    t.equal(readFileSync(b.gatewayFile, 'utf8'), GATEWAY);
  });
}

t.test('appliance change whose firewall fails the check is restored', async (t) => {
  const dir = setup(t);
  const b = new BadFirewall(dir);
  const edit = setApplianceKey('', b.applianceFile, ['managementNetworks'], ['192.0.2.0/24']);
  await t.rejects(applyAppliance(b, edit.text, { firewall: true }), /nft: syntax error; .* was restored/);
  t.equal(readFileSync(b.applianceFile, 'utf8'), '');
});

t.test('edits refuse invalid values with the field path (ConfigError)', async (t) => {
  t.throws(() => addRelayDomain(GATEWAY, 'g.yaml', 'example.test', ['a:25'], 'may'), /domains\.example\.test: already exists/);
  t.throws(() => addRelayDomain(GATEWAY, 'g.yaml', 'x.example', [], 'may'), /domains\.x\.example\.route\.hosts: /);
  t.throws(() => setApplianceKey('', 'a.yaml', ['managementNetworks'], ['10.0.0.0/33']), /managementNetworks\[0\]: expected an IP address or CIDR/);
  t.throws(() => setApplianceKey('', 'a.yaml', ['syslog'], { enabled: true }), /syslog\.target: syslog export needs a target collector/);
});
