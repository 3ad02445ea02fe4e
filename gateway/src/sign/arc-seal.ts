/*
 * sign/arc-seal.ts — ARC sealing (RFC 8617) of inbound mail we modified.
 *
 * We change every inbound message (our Authentication-Results and Received-SPF, removed forged
 * results; later rules and disclaimers), which breaks DKIM for the next hop (e.g. Microsoft 365
 * or Google behind the gateway). An ARC set — ARC-Authentication-Results (our results),
 * ARC-Message-Signature over the message as it goes out, ARC-Seal over the chain — lets a
 * receiver that trusts us as a sealer use our authentication results instead.
 *
 * Input: the sealer (domain, selector, RSA key: ARC allows rsa-sha256 only), the message as it
 * will go out (every header edit and body transform applied: seal last), our A-R value and the
 * chain validation result of the incoming chain → output: the three ARC fields as prepend edits
 * (top to bottom), or null when there is nothing to seal over (no A-R of ours) or the incoming
 * chain failed (cv=fail would end the chain; we do not extend a broken chain, as mailauth's
 * authenticate()). The crypto and the field formats are mailauth's createSeal (sealMessage).
 * Runs in receiver workers, after the verdict and before enqueue.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config/index.js';
import type { HeaderEdit } from '../core/index.js';
import { splitHeaders } from '../content/checks/authentication.js';

export interface ArcSealer {
  readonly domain: string;
  readonly selector: string;
  /** PEM (mailauth's signer takes a PEM string). */
  readonly privateKey: string;
}

/** The sealer from `arc:` (key: arc.keyFile, else the DKIM key `<dkim keysDir>/<domain>/<selector>.key`); null when sealing is off. */
export function loadArcSealer(config: Pick<Config, 'arc'>, dkimKeysDir: string): ArcSealer | null {
  const a = config.arc;
  if (!a.seal || !a.domain || !a.selector) return null;
  const file = a.keyFile ?? join(dkimKeysDir, a.domain, `${a.selector}.key`);
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new Error(`arc: cannot read the sealing key ${file}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`arc: ${file} is ${String(key.asymmetricKeyType)}; ARC seals with rsa-sha256 only (RFC 8617 §4.1.3)`);
  return { domain: a.domain, selector: a.selector, privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The value of the Authentication-Results edit carrying our authserv-id, or null. */
export function ourAuthResults(edits: readonly HeaderEdit[], authservId: string): string | null {
  const id = authservId.toLowerCase();
  for (const e of edits) {
    if (e.op === 'prepend' && e.name.toLowerCase() === 'authentication-results' && e.value.trimStart().toLowerCase().startsWith(`${id};`)) return e.value;
  }
  return null;
}

/**
 * The ARC set for the outgoing bytes `message()`, in prepend order; null when we do not seal.
 * `cv` is the incoming chain's result (none, pass, fail).
 */
export async function arcSealEdits(sealer: ArcSealer, message: () => Readable, authResults: string | null, cv: string): Promise<HeaderEdit[] | null> {
  if (!authResults || (cv !== 'none' && cv !== 'pass')) return null;
  const { sealMessage } = await import('mailauth');
  const out = await sealMessage(message(), {
    signingDomain: sealer.domain, selector: sealer.selector, privateKey: sealer.privateKey,
    authResults, cv: cv as 'none' | 'pass',
    // Without an explicit signTime, mailauth 4.13.3 reads the clock twice (once for the signed
    // t=, once for the written one): across a second boundary the ARC-Message-Signature does not
    // verify (measured: 1 in ~400 seals). One timestamp for both.
    signTime: new Date(),
  } as never);
  const edits = splitHeaders(out.toString('latin1'));
  if (edits.length !== 3) throw new Error(`ARC sealing produced ${edits.length} fields, expected 3`);
  return edits;
}
