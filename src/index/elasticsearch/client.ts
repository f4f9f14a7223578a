// The Elasticsearch client (auth, TLS CA, short timeouts, few retries) and the mapping of its failures to
// our errors: anything that means "ES is not answering" becomes AppError('backend_unavailable') (HTTP 503),
// quickly, so that a dead cluster never hangs a request nor crashes the process.
import fs from 'node:fs';
import { Client, errors, SniffingTransport, type ClientOptions, type TransportOptions } from '@elastic/elasticsearch';
import { AppError } from '../../errors.ts';

export interface EsConnectionOptions {
  url: string;
  apiKey?: string;
  username?: string;
  password?: string;
  caFile?: string;
  /** per-request timeout of reads and searches (ms); writes and admin calls pass their own */
  requestTimeoutMs?: number;
  /** immediate transport retries on a connection error or 502/503/504 */
  maxRetries?: number;
}

/**
 * The stock transport sleeps 1–2 s (then more) before retrying a connection error on a single node, so a
 * dead cluster would take seconds per call to report; ours waits 50 ms, 100 ms … (≤ 400 ms).
 */
class QuickRetryTransport extends SniffingTransport {
  constructor(opts: TransportOptions) {
    super({ ...opts, retryBackoff: (_min: number, _max: number, attempt: number) => Math.min(0.4, 0.025 * 2 ** attempt) });
  }
}

export function makeClient(o: EsConnectionOptions): Client {
  const opts: ClientOptions = {
    node: o.url,
    Transport: QuickRetryTransport,
    requestTimeout: o.requestTimeoutMs ?? 5_000,
    maxRetries: o.maxRetries ?? 1,
    sniffOnStart: false,
    sniffOnConnectionFault: false,
    compression: false,
  };
  if (o.apiKey) opts.auth = { apiKey: o.apiKey };
  else if (o.username) opts.auth = { username: o.username, password: o.password ?? '' };
  if (o.caFile) opts.tls = { ca: fs.readFileSync(o.caFile), rejectUnauthorized: true };
  return new Client(opts);
}

export function statusOf(e: unknown): number | undefined {
  return e instanceof errors.ResponseError ? e.statusCode : undefined;
}

export function esErrorType(e: unknown): string | undefined {
  if (!(e instanceof errors.ResponseError)) return undefined;
  const body = e.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

/** The failure of one search inside an _msearch (HTTP 200 overall) as the error a lone search would have thrown. */
export function itemError(item: { status?: number; error: unknown }): errors.ResponseError {
  const status = item.status ?? 500;
  return new errors.ResponseError({ body: { error: item.error, status }, statusCode: status, headers: {}, warnings: null, meta: {} as never });
}

/** Connection-level failures and overload: worth a retry, and mean "unavailable" when retries run out. */
export function isTransient(e: unknown): boolean {
  if (
    e instanceof errors.ConnectionError ||
    e instanceof errors.TimeoutError ||
    e instanceof errors.NoLivingConnectionsError ||
    e instanceof errors.RequestAbortedError
  )
    return true;
  const s = statusOf(e);
  return s === 429 || s === 502 || s === 503 || s === 504;
}

/** Our error for an ES failure: unavailable when ES does not answer (or its index is gone), internal else. */
export function toAppError(e: unknown, what: string): AppError {
  if (e instanceof AppError) return e;
  if (isTransient(e)) {
    const why = e instanceof errors.ResponseError ? `HTTP ${e.statusCode}` : (e as Error).name;
    return new AppError('backend_unavailable', `Elasticsearch is not answering (${what}: ${why})`);
  }
  const type = esErrorType(e);
  if (type === 'index_not_found_exception')
    return new AppError('backend_unavailable', `Elasticsearch index is missing (${what}); was the backend initialised?`);
  const reason = e instanceof errors.ResponseError ? `${type ?? 'error'} (HTTP ${e.statusCode})` : (e as Error).message;
  return new AppError('internal', `Elasticsearch ${what} failed: ${reason}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Bounded exponential backoff with jitter: base, 2·base, 4·base … for `retries` retries. */
export function backoffMs(attempt: number, baseMs: number): number {
  return Math.round(baseMs * 2 ** attempt * (0.75 + Math.random() * 0.5));
}
