/*
 * test/e2e/harness — helpers for end-to-end tests against real peers on loopback.
 * Import from here: `import { startSink, startDns, startPostfix, startGateway, smtpTalk } from './harness/index.js'`.
 * Every start* function takes the tap `t` and stops what it started in `t.teardown`.
 */
export * from './util.js';
export * from './ports.js';
export * from './smtp.js';
export * from './sink.js';
export * from './dns.js';
export * from './postfix.js';
export * from './swaks.js';
export * from './gateway.js';
export * from './clamd.js';
export * from './cli.js';
export * from './dsn.js';
export * from './mime.js';
export * from './opendkim.js';
