/*
 * listen/tls.ts — TLS material for the listeners.
 *
 * Configured key/cert files are read as they are. Without them a self-signed pair for the
 * configured hostname is generated once under <state>/tls/ (by the primary, before workers
 * start) and a warning is logged at every start: senders will use TLS but cannot verify us.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';

export interface TlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly sni: Map<string, { key: Buffer; cert: Buffer }>;
  readonly ca?: Buffer;
  readonly selfSigned: boolean;
}

function selfSignedPaths(config: Config): { key: string; cert: string } {
  const dir = join(config.paths.state, 'tls');
  return { key: join(dir, 'selfsigned.key'), cert: join(dir, 'selfsigned.crt') };
}

/** Primary only: make sure a self-signed pair exists when no certificate is configured. */
export async function ensureTlsMaterial(config: Config): Promise<{ generated: boolean }> {
  if (config.tls.keyFile && config.tls.certFile) return { generated: false };
  const paths = selfSignedPaths(config);
  if (existsSync(paths.key) && existsSync(paths.cert)) return { generated: false };
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: config.hostname }], {
    keySize: 2048, days: 3650, algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: config.hostname }] }],
  } as never);
  mkdirSync(join(config.paths.state, 'tls'), { recursive: true, mode: 0o700 });
  writeFileSync(paths.key, pems.private, { mode: 0o600 });
  writeFileSync(paths.cert, pems.cert, { mode: 0o644 });
  return { generated: true };
}

export function loadTlsMaterial(config: Config): TlsMaterial {
  const selfSigned = !(config.tls.keyFile && config.tls.certFile);
  const paths = selfSigned ? selfSignedPaths(config) : { key: config.tls.keyFile!, cert: config.tls.certFile! };
  const sni = new Map<string, { key: Buffer; cert: Buffer }>();
  for (const [name, files] of Object.entries(config.tls.sni)) {
    sni.set(name.toLowerCase(), { key: readFileSync(files.keyFile), cert: readFileSync(files.certFile) });
  }
  return {
    key: readFileSync(paths.key),
    cert: readFileSync(paths.cert),
    sni,
    ...(config.tls.clientCaFile ? { ca: readFileSync(config.tls.clientCaFile) } : {}),
    selfSigned,
  };
}
