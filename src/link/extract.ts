// What a product page shows, read from its HTML without running it: JSON-LD `Product` first (also inside
// `@graph` or nested entities, with `offers` / `AggregateOffer`), then Open Graph / Twitter meta, then a
// marketplace fallback (the largest content <img>, lazy-loading attributes included; the <h1> or <title>;
// a price element). Pure: html + the page's URL in, plain data out; every URL comes back absolute http(s).
import * as cheerio from 'cheerio';

export type ExtractSource = 'json-ld' | 'open-graph' | 'fallback';

export interface LinkPrice {
  amount: number;
  currency: string;
}

export interface PageProduct {
  title?: string;
  /** product images, best first, absolute http(s) URLs */
  images: string[];
  /** the (lowest) price the page shows */
  price?: LinkPrice;
  /** where the image (or, without one, the title) came from */
  source: ExtractSource;
}

type $T = cheerio.CheerioAPI;

const MAX_IMAGES = 8;
const MAX_TITLE = 300;
const MIN_SIDE = 100; // declared sizes below this are icons, sprites, badges

function absolute(raw: unknown, base: string): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim();
  if (!v || /^data:/i.test(v)) return undefined;
  try {
    const u = new URL(v, base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

function cleanText(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const t = raw.replace(/\s+/g, ' ').trim();
  return t ? t.slice(0, MAX_TITLE) : undefined;
}

/** "1,299.00", "12.50-18.00", 19 → the lowest number; undefined when there is none. */
function parseAmount(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw >= 0 ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const nums = [...raw.replace(/(\d),(?=\d{3}\b)/g, '$1').matchAll(/\d+(?:\.\d+)?/g)].map((m) => Number(m[0])).filter(Number.isFinite);
  return nums.length ? Math.min(...nums) : undefined;
}

const SYMBOLS: Array<[RegExp, string]> = [
  [/CNY|RMB|元|[¥￥]/i, 'CNY'],
  [/USD|US\$|\$/i, 'USD'],
  [/EUR|€/i, 'EUR'],
  [/GBP|£/i, 'GBP'],
];
function currencyIn(text: string): string | undefined {
  for (const [re, code] of SYMBOLS) if (re.test(text)) return code;
  return undefined;
}
function currencyCode(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const t = raw.trim().toUpperCase();
  return /^[A-Z]{3}$/.test(t) ? t : currencyIn(raw);
}

// ------------------------------------------------------------------------------------------ JSON-LD

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hasType(o: Record<string, unknown>, ...types: string[]): boolean {
  return asArray(o['@type']).some((t) => typeof t === 'string' && types.includes(t.replace(/^https?:\/\/schema\.org\//, '')));
}

function findProducts(v: unknown, out: Array<Record<string, unknown>>, depth = 0): void {
  if (depth > 6 || out.length >= 5) return;
  if (Array.isArray(v)) for (const x of v) findProducts(x, out, depth + 1);
  else if (isObj(v)) {
    if (hasType(v, 'Product', 'ProductGroup', 'IndividualProduct', 'ProductModel')) out.push(v);
    else for (const [k, x] of Object.entries(v)) if (k === '@graph' || typeof x === 'object') findProducts(x, out, depth + 1);
  }
}

function ldImages(v: unknown, base: string): string[] {
  const out: string[] = [];
  for (const x of asArray(v)) {
    if (typeof x === 'string') out.push(...[absolute(x, base)].filter((s): s is string => !!s));
    else if (isObj(x)) {
      const u = absolute(x.contentUrl ?? x.url, base);
      if (u) out.push(u);
    }
  }
  return out;
}

function ldPrice(offers: unknown, depth = 0): LinkPrice | undefined {
  let best: LinkPrice | undefined;
  for (const o of asArray(offers)) {
    if (!isObj(o) || depth > 3) continue;
    const spec = asArray(o.priceSpecification).find(isObj);
    const amount = parseAmount(o.lowPrice) ?? parseAmount(o.price) ?? parseAmount(spec?.price);
    const currency = currencyCode(o.priceCurrency) ?? currencyCode(spec?.priceCurrency);
    let p: LinkPrice | undefined = amount !== undefined && currency ? { amount, currency } : undefined;
    if (!p && o.offers !== undefined) p = ldPrice(o.offers, depth + 1); // AggregateOffer listing its offers
    if (p && (!best || (p.currency === best.currency && p.amount < best.amount))) best = p;
  }
  return best;
}

function fromJsonLd($: $T, base: string): Partial<PageProduct> {
  const products: Array<Record<string, unknown>> = [];
  $('script[type="application/ld+json"]').each((_, el) => {
    const raw = $(el).text().trim();
    if (!raw) return;
    try {
      findProducts(JSON.parse(raw), products);
    } catch {
      // a broken block says nothing; the other sources still may
    }
  });
  const images: string[] = [];
  let title: string | undefined;
  let price: LinkPrice | undefined;
  for (const p of products) {
    title ??= cleanText(p.name);
    images.push(...ldImages(p.image, base));
    price ??= ldPrice(p.offers);
    if (!price && p.hasVariant !== undefined) for (const v of asArray(p.hasVariant)) if (isObj(v)) price ??= ldPrice(v.offers);
  }
  return { title, images, price };
}

// ---------------------------------------------------------------------------------- Open Graph / Twitter

/** Contents of the named meta tags, in the order of `names` (og: before twitter:), then of the page. */
function meta($: $T, ...names: string[]): string[] {
  const found: Array<[number, string]> = [];
  $('meta').each((_, el) => {
    const m = $(el);
    const key = (m.attr('property') ?? m.attr('name') ?? m.attr('itemprop') ?? '').trim().toLowerCase();
    const content = m.attr('content')?.trim();
    const rank = names.indexOf(key);
    if (rank >= 0 && content) found.push([rank, content]);
  });
  return found.sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

function fromMeta($: $T, base: string): Partial<PageProduct> {
  const images = meta($, 'og:image', 'og:image:url', 'og:image:secure_url', 'twitter:image', 'twitter:image:src')
    .map((u) => absolute(u, base))
    .filter((u): u is string => !!u);
  const title = cleanText(meta($, 'og:title', 'twitter:title')[0]);
  const amount = parseAmount(meta($, 'product:price:amount', 'og:price:amount', 'product:sale_price:amount')[0]);
  const currency = currencyCode(meta($, 'product:price:currency', 'og:price:currency', 'product:sale_price:currency')[0]);
  return { title, images, price: amount !== undefined && currency ? { amount, currency } : undefined };
}

// --------------------------------------------------------------------------------------- fallback

const LAZY = ['data-src', 'data-lazy-src', 'data-original', 'data-lazy', 'data-lazyload', 'data-img', 'data-old-hires', 'data-zoom-image', 'data-large'];
const NOISE = /(^|[^a-z])(sprites?|icons?|logos?|favicon|avatars?|spacer|pixel|blank|placeholder|loading|badges?|rating|stars?|banners?|buttons?|arrows?|qrcode|tracking)([^a-z]|$)/i;

function srcsetBest(v: string | undefined): string | undefined {
  if (!v) return undefined;
  let best: { url: string; w: number } | undefined;
  for (const part of v.split(',')) {
    const [url, d] = part.trim().split(/\s+/);
    const w = d ? parseFloat(d) : 1;
    if (url && (!best || w > best.w)) best = { url, w };
  }
  return best?.url;
}

/** The amount written right after a currency sign ("¥12.50 - 18.00" → 12.5), so other numbers nearby (MOQ) are not taken. */
function symbolAmount(text: string): number | undefined {
  const m = text.match(/[¥￥$€£]\s*(\d[\d,]*(?:\.\d+)?)/);
  return m ? parseAmount(m[1]) : undefined;
}

function dim(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const n = parseInt(v, 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function fromFallback($: $T, base: string): Partial<PageProduct> {
  const cands: Array<{ url: string; area: number; order: number }> = [];
  $('img').each((i, el) => {
    const img = $(el);
    const attr = (n: string) => img.attr(n)?.trim() || undefined;
    const src = attr('src');
    // the real picture of a lazy-loaded image sits in a data- attribute; src is a placeholder until then
    const raw = LAZY.map(attr).find((v) => v && !/^data:/i.test(v)) ?? srcsetBest(attr('data-srcset')) ?? srcsetBest(attr('srcset')) ?? src;
    const url = absolute(raw, base);
    if (!url) return;
    const label = `${url} ${attr('class') ?? ''} ${attr('id') ?? ''} ${attr('alt') ?? ''}`;
    if (NOISE.test(label) || /\.svg(\?|$)/i.test(url)) return;
    const w = dim(attr('width')) ?? dim(attr('data-width'));
    const h = dim(attr('height')) ?? dim(attr('data-height'));
    if ((w !== undefined && w < MIN_SIDE) || (h !== undefined && h < MIN_SIDE)) return;
    // undeclared sizes rank after every declared one, in page order
    cands.push({ url, area: w !== undefined && h !== undefined ? w * h : w !== undefined || h !== undefined ? (w ?? h)! ** 2 : 0, order: i });
  });
  cands.sort((a, b) => b.area - a.area || a.order - b.order);

  const title = cleanText($('h1').first().text()) ?? cleanText($('title').first().text());
  let price: LinkPrice | undefined;
  $('[itemprop="price"], [class*="price" i], [id*="price" i]').each((_, el) => {
    if (price) return;
    const e = $(el);
    const text = `${e.attr('content') ?? ''} ${e.text()}`.replace(/\s+/g, ' ').trim();
    if (text.length > 120) return; // a whole block, not a price
    const amount = symbolAmount(text) ?? parseAmount(text);
    const currency = currencyCode(e.attr('data-currency')) ?? currencyCode($('[itemprop="priceCurrency"]').attr('content')) ?? currencyIn(text);
    if (amount !== undefined && amount > 0 && currency) price = { amount, currency };
  });
  return { title, images: cands.map((c) => c.url), price };
}

// ------------------------------------------------------------------------------------------ together

export function extractProduct(html: string, pageUrl: string): PageProduct {
  const $ = cheerio.load(html);
  const base = absolute($('base[href]').attr('href'), pageUrl) ?? pageUrl;
  const sources: Array<[ExtractSource, Partial<PageProduct>]> = [
    ['json-ld', fromJsonLd($, base)],
    ['open-graph', fromMeta($, base)],
    ['fallback', fromFallback($, base)],
  ];
  const images: string[] = [];
  for (const [, s] of sources) for (const u of s.images ?? []) if (!images.includes(u) && images.length < MAX_IMAGES) images.push(u);
  const title = sources.map(([, s]) => s.title).find(Boolean);
  const price = sources.map(([, s]) => s.price).find(Boolean);
  const source =
    sources.find(([, s]) => s.images?.length)?.[0] ?? sources.find(([, s]) => s.title)?.[0] ?? 'fallback';
  return { ...(title ? { title } : {}), images, ...(price ? { price } : {}), source };
}
