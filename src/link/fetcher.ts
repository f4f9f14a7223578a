// The one guarded fetcher for every URL a user gives us (image URLs, product links, feed entries).
// DNS is resolved once per hop, every resolved address must be public, and the connection is pinned to
// the checked address (no second lookup an attacker could answer differently). Redirects are followed by
// hand, each hop checked again; size, time and content type are bounded.
import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { AppError } from '../errors.ts';
import { isPublicAddress } from './address.ts';

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** hosts (name or IP) that may be private: only for tests and operators' own fixture servers */
  allowHosts: string[];
}

export interface FetchResult {
  url: string;
  status: number;
  contentType: string;
  body: Buffer;
}

/** DNS lookup as `dns.promises.lookup(host, { all: true, verbatim: true })` answers; injectable for tests. */
export type LookupAll = (host: string, opts: { all: true; verbatim: true }) => Promise<Array<{ address: string; family: number }>>;

export interface FetchOptions {
  /** accepted media types, e.g. ['image/', 'text/html']; a prefix ending in '/' matches a family */
  accept: string[];
  maxBytes?: number;
}

function typeAccepted(ct: string, accept: string[]): boolean {
  const t = ct.split(';')[0].trim().toLowerCase();
  return accept.some((a) => (a.endsWith('/') ? t.startsWith(a) : t === a));
}

async function resolveChecked(host: string, limits: FetchLimits, lookup: LookupAll): Promise<{ address: string; family: number }> {
  const bare = host.replace(/^\[|\]$/g, '');
  const allowed = limits.allowHosts.includes(bare) || limits.allowHosts.includes(host);
  if (net.isIP(bare)) {
    if (!allowed && !isPublicAddress(bare)) throw new AppError('url_not_allowed', `the address ${bare} is not a public address`);
    return { address: bare, family: net.isIP(bare) };
  }
  if (bare === 'localhost' || bare.endsWith('.localhost')) {
    if (!allowed) throw new AppError('url_not_allowed', `${bare} is not a public host`);
  }
  let addrs: Array<{ address: string; family: number }>;
  try {
    addrs = await lookup(bare, { all: true, verbatim: true });
  } catch {
    throw new AppError('fetch_failed', `the host ${bare} could not be resolved`);
  }
  if (!addrs.length) throw new AppError('fetch_failed', `the host ${bare} has no address`);
  // every address must pass: a name that also resolves inside is refused outright
  if (!allowed) for (const a of addrs) if (!isPublicAddress(a.address)) throw new AppError('url_not_allowed', `${bare} resolves to a non-public address`);
  return addrs[0];
}

function parseUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AppError('url_not_allowed', 'the URL is not valid');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AppError('url_not_allowed', `only http and https URLs are fetched, not ${u.protocol}`);
  if (u.username || u.password) throw new AppError('url_not_allowed', 'URLs with credentials are not fetched');
  return u;
}

export class GuardedFetcher {
  private readonly lookup: LookupAll;
  constructor(private readonly limits: FetchLimits, opts: { lookup?: LookupAll } = {}) {
    this.lookup = opts.lookup ?? ((host, o) => dns.lookup(host, o));
  }

  /** An image URL: any image/* type, at most `maxBytes` (default: the fetcher's limit). */
  fetchImage(raw: string, maxBytes?: number): Promise<FetchResult> {
    return this.fetch(raw, { accept: ['image/'], maxBytes });
  }

  async fetch(raw: string, opts: FetchOptions): Promise<FetchResult> {
    const deadline = Date.now() + this.limits.timeoutMs;
    let url = parseUrl(raw);
    for (let hop = 0; ; hop++) {
      const res = await this.once(url, opts, deadline);
      if (res.redirect) {
        if (hop >= this.limits.maxRedirects) throw new AppError('fetch_failed', `more than ${this.limits.maxRedirects} redirects`);
        url = parseUrl(new URL(res.redirect, url).toString());
        continue;
      }
      return res.result!;
    }
  }

  private async once(url: URL, opts: FetchOptions, deadline: number): Promise<{ redirect?: string; result?: FetchResult }> {
    const pinned = await resolveChecked(url.hostname, this.limits, this.lookup);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new AppError('fetch_failed', `the fetch took longer than ${this.limits.timeoutMs} ms`);
    const maxBytes = opts.maxBytes ?? this.limits.maxBytes;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'GET',
          headers: { 'user-agent': 'sourcing-search/0.1 (+product lookup)', accept: opts.accept.map((a) => (a.endsWith('/') ? `${a}*` : a)).join(', ') },
          // pin the connection to the address we checked
          lookup: (_host: string, o: any, cb: any) => (o?.all ? cb(null, [pinned]) : cb(null, pinned.address, pinned.family)),
          timeout: remaining,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400 && res.headers.location) {
            res.resume();
            return resolve({ redirect: res.headers.location });
          }
          if (status < 200 || status >= 300) {
            res.resume();
            return reject(new AppError('fetch_failed', `the server answered ${status}`));
          }
          const ct = String(res.headers['content-type'] ?? '');
          if (!typeAccepted(ct, opts.accept)) {
            res.destroy();
            return reject(new AppError('unsupported_media_type', `the URL serves ${ct || 'no content type'}, expected ${opts.accept.join(' or ')}`));
          }
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > maxBytes) {
            res.destroy();
            return reject(new AppError('payload_too_large', `the URL serves ${declared} bytes; the limit is ${maxBytes}`));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              res.destroy();
              reject(new AppError('payload_too_large', `the URL serves more than ${maxBytes} bytes`));
            } else chunks.push(c);
          });
          res.on('end', () => resolve({ result: { url: url.toString(), status, contentType: ct, body: Buffer.concat(chunks) } }));
          res.on('error', () => reject(new AppError('fetch_failed', 'the connection broke while reading')));
        },
      );
      const timer = setTimeout(() => req.destroy(new Error('deadline')), remaining);
      req.on('timeout', () => req.destroy(new Error('deadline')));
      req.on('error', (e) =>
        reject(e.message === 'deadline' ? new AppError('fetch_failed', `the fetch took longer than ${this.limits.timeoutMs} ms`) : new AppError('fetch_failed', `could not fetch the URL: ${e.message}`)),
      );
      req.on('close', () => clearTimeout(timer));
      req.end();
    });
  }
}
