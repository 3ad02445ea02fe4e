/*
 * cli/admin-client.ts — talk to the running daemon's admin API over its unix socket (undici).
 *
 * Input: method and path. Output: the decoded JSON (or text) of a 2xx answer; anything else
 * becomes a CliError with one line the postmaster can act on. Every request has a deadline
 * (connect, headers, body and an overall abort). Does not: retry (a flush or delete must not be
 * sent twice), or keep the connection beyond the command.
 * Runs in the `tuxhat` process.
 */
import { resolve } from 'node:path';
import { Client } from 'undici';
import { CliError } from './io.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 2_000;

/** An answer from the gateway that was not 2xx; its `error` text is the gateway's own sentence. */
export class AdminHttpError extends CliError {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, message: string, body: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export class AdminClient {
  readonly #client: Client;
  readonly #socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, timeoutMs: number = DEFAULT_TIMEOUT_MS) {
    this.#socketPath = resolve(socketPath);
    this.#timeoutMs = timeoutMs;
    this.#client = new Client('http://localhost', {
      socketPath: this.#socketPath,
      connect: { timeout: Math.min(CONNECT_TIMEOUT_MS, timeoutMs) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** A JSON request; resolves with the body of a 2xx answer. */
  async json<T>(method: 'GET' | 'POST' | 'DELETE', path: string): Promise<T> {
    const { status, text } = await this.#request(method, path);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CliError(`the gateway at ${this.#socketPath} sent a malformed answer (HTTP ${status})`);
    }
    if (status >= 200 && status < 300) return body as T;
    const error = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
      ? (body as { error: string }).error
      : `HTTP ${status}`;
    throw new AdminHttpError(status, error, body);
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }

  async #request(method: string, path: string): Promise<{ status: number; text: string }> {
    try {
      const res = await this.#client.request({
        method,
        path,
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      throw this.#explain(err);
    }
  }

  #explain(err: unknown): CliError {
    const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code;
    const where = `the gateway at ${this.#socketPath}`;
    switch (code) {
      case 'ENOENT':
      case 'ECONNREFUSED':
        return new CliError(`cannot reach ${where}: is it running?`);
      case 'EACCES':
      case 'EPERM':
        return new CliError(`cannot reach ${where}: permission denied (run as root or as a member of the socket's group)`);
      case 'UND_ERR_CONNECT_TIMEOUT':
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return new CliError(`${where} did not answer within ${this.#timeoutMs / 1000} s`);
      default:
        if (e.name === 'TimeoutError' || e.name === 'AbortError') return new CliError(`${where} did not answer within ${this.#timeoutMs / 1000} s`);
        return new CliError(`cannot reach ${where}: ${e.message ?? String(err)}`);
    }
  }
}
