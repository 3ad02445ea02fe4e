/*
 * Unit tests of the rule time-zone check (rules/time-zone.ts): it must accept exactly what
 * Intl.DateTimeFormat accepts, while answering canonical names without building one (and a
 * child process shows that validating a rule file no longer makes ICU's zone data resident).
 */
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { isKnownTimeZone } from '../../../gateway/src/rules/time-zone.js';

const accepts = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

t.test('canonical, case-insensitive, aliases (fallback) and unknown names agree with DateTimeFormat', async (t) => {
  for (const zone of ['UTC', 'utc', 'Europe/Berlin', 'europe/berlin', 'America/Argentina/Buenos_Aires', 'Europe/Kyiv', 'US/Eastern', 'Etc/GMT+5', 'GMT', 'Mars/Olympus', '+01:00', '', 'Europe/']) {
    t.equal(isKnownTimeZone(zone), accepts(zone), zone);
  }
  t.notOk(isKnownTimeZone('Mars/Olympus'));
  t.ok(isKnownTimeZone('Europe/Kyiv'), 'a name missing from supportedValuesOf but valid');
});

t.test('a canonical zone is judged without loading the zone formatting data', async (t) => {
  // Resident pages of the node binary before and after: DateTimeFormat adds ~6 MB, the list ~0.5 MB.
  const script = `
    const fs = require('node:fs');
    const rss = () => fs.readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-)/).filter((m) => m.split('\\n')[0].endsWith(process.execPath)).reduce((a, m) => a + Number(/^Rss:\\s+(\\d+)/m.exec(m)[1]), 0);
    import(process.argv[1]).then(({ isKnownTimeZone }) => {
      const before = rss();
      if (!isKnownTimeZone('Europe/Berlin')) throw new Error('Europe/Berlin unknown');
      const mid = rss();
      new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin' });
      console.log(JSON.stringify({ check: mid - before, formatter: rss() - mid }));
    });`;
  // The compiled module (the test command builds dist/ first): a plain node child runs no TypeScript.
  const url = new URL('../../../dist/gateway/src/rules/time-zone.js', import.meta.url).href;
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script, url], { encoding: 'utf8' })) as { check: number; formatter: number };
  t.ok(out.formatter > 2 * out.check + 1024, `the check made ${out.check} kB resident, a formatter ${out.formatter} kB more`);
});
