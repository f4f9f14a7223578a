// Link queries must never reach inside: POST /v1/search { url } with the DEFAULT fetch configuration (no
// allowlist) refuses every loopback, private, link-local, reserved or oddly spelled address, non-http
// schemes and credentials, names that resolve inside (through an injected DNS lookup), redirects that
// lead inside; and bounds redirects, size, time and content type. The refusals come before any search,
// so the app here runs on the real config, fetcher and routes with a backend and model that must never
// be reached (a call would be a 500, not the expected 4xx).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { isPublicAddress } from '../src/link/address.ts';
import { GuardedFetcher, type LookupAll } from '../src/link/fetcher.ts';
import type { Services } from '../src/services.ts';

const unreachable = new Proxy({}, { get: () => () => { throw new Error('the search must not be reached'); } });

function makeApp(opts: { lookup?: LookupAll } = {}) {
  const config: Config = loadConfig({ DATA_DIR: '/nonexistent-ssrf-test' }); // defaults only: no allowlist
  const services = {
    config,
    backend: unreachable,
    embedder: unreachable,
    projection: unreachable,
    calibration: null,
    fetcher: new GuardedFetcher(config.fetch, opts),
    log: () => {},
  } as unknown as Services;
  return { app: createApp(services), config };
}

const { app, config } = makeApp();

async function linkSearch(a: ReturnType<typeof createApp>, url: string) {
  return a.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }) });
}

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBe(status);
  const body = JSON.parse(text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error as { code: string; message: string };
}

describe('the default configuration', () => {
  it('allows no private host', () => {
    expect(config.fetch.allowHosts).toEqual([]);
    expect(config.fetch.maxRedirects).toBe(3);
    expect(config.fetch.maxBytes).toBe(5 * 1024 * 1024);
    expect(config.fetch.timeoutMs).toBe(5000);
  });
});

describe('POST /v1/search { url } refuses addresses inside (400 url_not_allowed)', () => {
  it.each([
    // loopback, in every spelling
    'http://127.0.0.1/p', 'http://127.1/p', 'http://127.255.255.254:8080/p', 'http://localhost/p', 'http://LOCALHOST:3000/p', 'http://shop.localhost/p', 'http://[::1]/p',
    'http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://127.000.000.001/',
    // private
    'http://10.0.0.1/p', 'http://10.255.1.2/p', 'http://172.16.0.1/p', 'http://172.31.255.254/p', 'http://192.168.1.1/p',
    // link-local and the cloud metadata service
    'http://169.254.169.254/latest/meta-data/', 'http://169.254.0.1/', 'http://[fe80::1]/', 'http://[fe80::a9fe:a9fe]/',
    // CGNAT, multicast, this-network, reserved
    'http://100.64.0.1/', 'http://100.127.255.254/', 'http://224.0.0.1/', 'http://239.255.255.250/', 'http://0.0.0.0/', 'http://0/', 'http://240.0.0.1/', 'http://255.255.255.255/',
    // IPv6 unique local, multicast, unspecified
    'http://[fc00::1]/', 'http://[fd00::1]/', 'http://[fd12:3456:789a::1]/', 'http://[ff02::1]/', 'http://[::]/',
    // IPv4 inside IPv6: mapped (dotted and hex), compatible, NAT64, 6to4
    'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[::ffff:10.0.0.1]/', 'http://[::127.0.0.1]/',
    'http://[64:ff9b::7f00:1]/', 'http://[64:ff9b::a9fe:a9fe]/', 'http://[2002:7f00:1::]/', 'http://[2002:a9fe:a9fe::]/',
  ])('%s', async (url) => {
    await expectError(await linkSearch(app, url), 400, 'url_not_allowed');
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/product.html', 'gopher://example.com:70/1', 'data:text/html,<img src=x>', 'javascript:alert(1)', 'ws://example.com/', 'not a url', '//example.com/p'])(
    'non-http scheme or no URL: %s',
    async (url) => {
      await expectError(await linkSearch(app, url), 400, 'url_not_allowed');
    },
  );

  it.each(['http://user:pw@example.com/p', 'http://user@example.com/p', 'https://:secret@example.com/p', 'http://admin:admin@127.0.0.1/'])('credentials in the URL: %s', async (url) => {
    await expectError(await linkSearch(app, url), 400, 'url_not_allowed');
  });

  it('400 invalid_request when url comes with imageUrl or imageBase64', async () => {
    for (const extra of [{ imageUrl: 'https://example.com/a.jpg' }, { imageBase64: 'AAAA' }]) {
      const res = await app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'https://example.com/p', ...extra }) });
      await expectError(res, 400, 'invalid_request');
    }
    const long = await app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `https://example.com/${'a'.repeat(2100)}` }) });
    await expectError(long, 400, 'invalid_request');
  });
});

describe('names that resolve inside (injected DNS lookup)', () => {
  const calls: string[] = [];
  const table: Record<string, Array<{ address: string; family: number }>> = {
    'shop.example.com': [{ address: '10.0.0.1', family: 4 }],
    'mixed.example.com': [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.1', family: 4 }],
    'mixed6.example.com': [{ address: '2606:2800:220:1::1', family: 6 }, { address: 'fd00::5', family: 6 }],
    'meta.example.com': [{ address: '169.254.169.254', family: 4 }],
    'mapped.example.com': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'public.example.com': [{ address: '192.0.2.10', family: 4 }], // TEST-NET: reserved, refused too
    'empty.example.com': [],
  };
  const lookup: LookupAll = async (host) => {
    calls.push(host);
    const r = table[host];
    if (!r) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return r;
  };
  const dnsApp = makeApp({ lookup }).app;

  it.each(['shop.example.com', 'mixed.example.com', 'mixed6.example.com', 'meta.example.com', 'mapped.example.com', 'public.example.com'])(
    'http://%s/ is refused',
    async (host) => {
      const before = calls.length;
      await expectError(await linkSearch(dnsApp, `http://${host}/item/1`), 400, 'url_not_allowed');
      expect(calls.slice(before)).toEqual([host]); // resolved once, checked, never connected
    },
  );

  it('a name that does not resolve, or resolves to nothing, is 422 fetch_failed', async () => {
    await expectError(await linkSearch(dnsApp, 'http://nowhere.example.com/'), 422, 'fetch_failed');
    await expectError(await linkSearch(dnsApp, 'http://empty.example.com/'), 422, 'fetch_failed');
  });
});

// ------------------------------------------------------------------------ a fixture server on 127.0.0.2

describe('redirects, size, time and content type (fixture server on 127.0.0.2, allowlisted)', () => {
  let inside: http.Server; // on 127.0.0.1: NOT allowlisted
  let fixture: http.Server;
  let base = '';
  let insidePort = 0;
  let insideHits = 0;
  const timers = new Set<NodeJS.Timeout>();
  const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]);

  beforeAll(async () => {
    inside = http.createServer((_rq, rs) => {
      insideHits++;
      rs.writeHead(200, { 'content-type': 'text/html' }).end('<h1>internal admin</h1>');
    });
    await new Promise<void>((r) => inside.listen(0, '127.0.0.1', r));
    insidePort = (inside.address() as AddressInfo).port;
    fixture = http.createServer((rq, rs) => {
      const u = new URL(rq.url ?? '/', 'http://x');
      const n = Number(u.searchParams.get('n') ?? 0);
      switch (u.pathname) {
        case '/to-inside':
          return rs.writeHead(302, { location: `http://127.0.0.1:${insidePort}/` }).end();
        case '/to-inside-relative-host':
          return rs.writeHead(307, { location: `//localhost:${insidePort}/` }).end();
        case '/to-metadata':
          return rs.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/iam/' }).end();
        case '/to-file':
          return rs.writeHead(302, { location: 'file:///etc/passwd' }).end();
        case '/hop':
          return n > 0 ? rs.writeHead(302, { location: `/hop?n=${n - 1}` }).end() : rs.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
        case '/big': {
          rs.writeHead(200, { 'content-type': 'text/html' }); // chunked: no declared length
          const chunk = Buffer.alloc(256 * 1024, 0x41);
          let sent = 0;
          const pump = () => {
            while (sent < 6 * 1024 * 1024) {
              sent += chunk.length;
              if (!rs.write(chunk)) return void rs.once('drain', pump);
            }
            rs.end();
          };
          rs.on('error', () => {});
          return pump();
        }
        case '/big-declared':
          rs.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(6 * 1024 * 1024) });
          rs.on('error', () => {});
          return rs.write(Buffer.alloc(1024));
        case '/slow': {
          const t = setTimeout(() => rs.writeHead(200, { 'content-type': 'text/html' }).end('<h1>late</h1>'), 3000);
          timers.add(t);
          return;
        }
        case '/slow-body': {
          rs.writeHead(200, { 'content-type': 'text/html' });
          rs.write('<html><h1>');
          const t = setTimeout(() => rs.end('late</h1></html>'), 3000);
          timers.add(t);
          return;
        }
        case '/octet':
          return rs.writeHead(200, { 'content-type': 'application/octet-stream' }).end(JPEG);
        case '/plain':
          return rs.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Oat milk 1 L');
        case '/none':
          return rs.writeHead(200).end('<html></html>');
        case '/json':
          return rs.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        case '/page-with-inside-image':
          return rs.writeHead(200, { 'content-type': 'text/html' }).end(`<meta property="og:image" content="http://127.0.0.1:${insidePort}/a.jpg"><h1>Oat milk</h1>`);
        case '/page-with-metadata-image':
          return rs.writeHead(200, { 'content-type': 'text/html' }).end('<script type="application/ld+json">{"@type":"Product","name":"x","image":"http://169.254.169.254/latest/meta-data/a.jpg"}</script>');
        case '/page-with-octet-image':
          return rs.writeHead(200, { 'content-type': 'text/html' }).end('<meta property="og:image" content="/octet">');
        case '/page-with-big-image':
          return rs.writeHead(200, { 'content-type': 'text/html' }).end('<meta property="og:image" content="/big-declared">');
        case '/empty-page':
          return rs.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><p>nothing here</p></body></html>');
        default:
          return rs.writeHead(404, { 'content-type': 'text/html' }).end('not found');
      }
    });
    await new Promise<void>((r) => fixture.listen(0, '127.0.0.2', r));
    base = `http://127.0.0.2:${(fixture.address() as AddressInfo).port}`;
    config.fetch.allowHosts.push('127.0.0.2');
  });

  afterAll(async () => {
    config.fetch.allowHosts.length = 0;
    for (const t of timers) clearTimeout(t);
    fixture.closeAllConnections();
    await Promise.all([new Promise((r) => fixture.close(r)), new Promise((r) => inside.close(r))]);
  });

  it('only 127.0.0.2 is allowed: 127.0.0.1 itself is still refused', async () => {
    expect(config.fetch.allowHosts).toEqual(['127.0.0.2']);
    await expectError(await linkSearch(app, `http://127.0.0.1:${insidePort}/`), 400, 'url_not_allowed');
  });

  it('a redirect from the allowed host to 127.0.0.1, localhost, the metadata address or file: is refused at that hop', async () => {
    for (const p of ['/to-inside', '/to-inside-relative-host', '/to-metadata', '/to-file']) {
      await expectError(await linkSearch(app, `${base}${p}`), 400, 'url_not_allowed');
    }
    expect(insideHits).toBe(0); // the inside server was never contacted
  });

  it('a page whose product image points inside is refused, not skipped', async () => {
    await expectError(await linkSearch(app, `${base}/page-with-inside-image`), 400, 'url_not_allowed');
    await expectError(await linkSearch(app, `${base}/page-with-metadata-image`), 400, 'url_not_allowed');
    expect(insideHits).toBe(0);
  });

  it('more than 3 redirects is 422 fetch_failed (3 are followed)', async () => {
    await expectError(await linkSearch(app, `${base}/hop?n=4`), 422, 'fetch_failed');
    await expectError(await linkSearch(app, `${base}/hop?n=50`), 422, 'fetch_failed');
    // 3 hops reach the image, which is then handed to the search (here: a stub that must not be reached → 500)
    const res = await linkSearch(app, `${base}/hop?n=3`);
    expect(res.status).toBe(500);
  });

  it('a body over 5 MB is 413 payload_too_large (streamed or declared, page or image)', async () => {
    await expectError(await linkSearch(app, `${base}/big`), 413, 'payload_too_large');
    await expectError(await linkSearch(app, `${base}/big-declared`), 413, 'payload_too_large');
    await expectError(await linkSearch(app, `${base}/page-with-big-image`), 413, 'payload_too_large');
  });

  it('a server slower than the fetch timeout is 422 fetch_failed', async () => {
    const before = config.fetch.timeoutMs;
    config.fetch.timeoutMs = 300;
    try {
      const t0 = Date.now();
      await expectError(await linkSearch(app, `${base}/slow`), 422, 'fetch_failed');
      await expectError(await linkSearch(app, `${base}/slow-body`), 422, 'fetch_failed');
      expect(Date.now() - t0).toBeLessThan(2500);
    } finally {
      config.fetch.timeoutMs = before;
    }
  });

  it('a wrong content type is 415 unsupported_media_type (page and product image)', async () => {
    for (const p of ['/octet', '/plain', '/none', '/json', '/page-with-octet-image']) {
      await expectError(await linkSearch(app, `${base}${p}`), 415, 'unsupported_media_type');
    }
  });

  it('a 404 page or a page that shows no product is 422 fetch_failed', async () => {
    await expectError(await linkSearch(app, `${base}/missing`), 422, 'fetch_failed');
    await expectError(await linkSearch(app, `${base}/empty-page`), 422, 'fetch_failed');
  });
});

describe('a name pinned to its checked address (injected DNS, allowlisted fixture name)', () => {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((rq, rs) => rs.writeHead(200, { 'content-type': 'text/plain' }).end(`host ${rq.headers.host}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('resolves once per hop and connects to exactly that address (a rebinding second answer is never asked)', async () => {
    let n = 0;
    const answers = [[{ address: '127.0.0.2', family: 4 }], [{ address: '127.0.0.1', family: 4 }]];
    const cfg = loadConfig({ DATA_DIR: '/nonexistent-ssrf-test' });
    const f = new GuardedFetcher({ ...cfg.fetch, allowHosts: ['fixture.test'] }, { lookup: async () => answers[Math.min(n++, 1)] });
    // text/plain is accepted here on purpose: the point is where the connection went
    const r = await f.fetch(`http://fixture.test:${port}/`, { accept: ['text/plain'] });
    expect(r.body.toString()).toBe(`host fixture.test:${port}`);
    expect(n).toBe(1);
  });
});

// ------------------------------------------------------------------------------------ isPublicAddress

describe('isPublicAddress', () => {
  it.each([
    ['0.0.0.0'], ['0.1.2.3'], ['10.0.0.1'], ['10.255.255.255'], ['100.64.0.1'], ['100.127.255.255'], ['127.0.0.1'], ['127.255.0.9'],
    ['169.254.0.1'], ['169.254.169.254'], ['172.16.0.1'], ['172.31.255.255'], ['192.0.0.8'], ['192.0.2.1'], ['192.88.99.1'],
    ['192.168.0.1'], ['192.168.255.255'], ['198.18.0.1'], ['198.19.255.255'], ['198.51.100.7'], ['203.0.113.9'], ['224.0.0.1'],
    ['239.255.255.250'], ['240.0.0.1'], ['255.255.255.255'],
  ])('IPv4 %s is not public', (a) => {
    expect(isPublicAddress(a)).toBe(false);
  });

  it.each([['1.1.1.1'], ['8.8.8.8'], ['93.184.216.34'], ['100.63.255.255'], ['100.128.0.0'], ['172.15.255.255'], ['172.32.0.0'], ['192.167.1.1'], ['198.20.0.1'], ['223.255.255.255'], ['11.0.0.1']])(
    'IPv4 %s is public',
    (a) => {
      expect(isPublicAddress(a)).toBe(true);
    },
  );

  it.each([
    ['::'], ['::1'], ['fc00::1'], ['fd00::1'], ['fdff:ffff::1'], ['fe80::1'], ['febf::1'], ['fec0::1'], ['ff02::1'], ['ff0e::1'], ['2001:db8::1'], ['100::1'], ['2001::1'],
    ['::ffff:127.0.0.1'], ['::ffff:7f00:1'], ['::ffff:10.0.0.1'], ['::ffff:a9fe:a9fe'], ['::ffff:0.0.0.0'], ['::127.0.0.1'], ['::a00:1'],
    ['64:ff9b::7f00:1'], ['64:ff9b::10.0.0.1'], ['64:ff9b::a9fe:a9fe'], ['2002:7f00:1::'], ['2002:c0a8:101::1'], ['fe80::1%eth0'], ['[::1]'],
  ])('IPv6 %s is not public', (a) => {
    expect(isPublicAddress(a)).toBe(false);
  });

  it.each([['2606:4700:4700::1111'], ['2001:4860:4860::8888'], ['::ffff:8.8.8.8'], ['64:ff9b::808:808'], ['2002:808:808::1'], ['2a00:1450:4001:80b::200e']])('IPv6 %s is public', (a) => {
    expect(isPublicAddress(a)).toBe(true);
  });

  it.each([['example.com'], [''], ['127.1'], ['2130706433'], ['0x7f000001'], ['1.2.3'], ['::ffff:zzzz:1'], ['1.2.3.4.5']])('%s is not an address, so not public', (a) => {
    expect(isPublicAddress(a)).toBe(false);
  });
});
