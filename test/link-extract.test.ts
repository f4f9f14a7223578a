// extractProduct: html + the page URL → title, images (absolute, best first), price and where they came from.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { extractProduct } from '../src/link/extract.ts';
import { decodePage } from '../src/link/query.ts';

const PAGES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pages');
const BASE = 'http://shop.example:8080';
const page = (name: string) => fs.readFileSync(path.join(PAGES, name), 'utf8').replaceAll('{{BASE}}', BASE);
const ld = (obj: unknown) => `<script type="application/ld+json">${JSON.stringify(obj)}</script>`;

describe('fixture pages', () => {
  it('1688-style offer: no JSON-LD, lazy gallery image, Chinese title, CNY price range → fallback', () => {
    const p = extractProduct(page('1688-offer.html'), `${BASE}/pages/1688-offer.html`);
    expect(p.source).toBe('fallback');
    expect(p.title).toBe('Oatly燕麦奶 咖啡大师 1L整箱批发');
    expect(p.images[0]).toBe(`${BASE}/images/oatly-oat-milk__photo-2.jpg`); // data-src, resolved against the page
    expect(p.price).toEqual({ amount: 19.8, currency: 'CNY' }); // the low end of the range, not the MOQ
    for (const u of p.images) expect(u).not.toMatch(/logo|sprite|blank|banner|badge|^data:/);
  });

  it('Amazon-like: Open Graph image, title and price win over page noise', () => {
    const p = extractProduct(page('amazon-like.html'), `${BASE}/dp/B000TEST`);
    expect(p.source).toBe('open-graph');
    expect(p.title).toBe('Arla Sour Cream 18%, 300 ml');
    expect(p.images[0]).toBe(`${BASE}/images/arla-sour-cream__photo-1.jpg`);
    expect(p.images.filter((u) => u.endsWith('arla-sour-cream__photo-1.jpg'))).toHaveLength(1); // deduplicated
    expect(p.price).toEqual({ amount: 3.99, currency: 'USD' });
    for (const u of p.images) expect(u).not.toMatch(/sprite|logo|pixel/);
  });

  it('Shopify-like: JSON-LD Product inside @graph with an AggregateOffer; a broken block is ignored', () => {
    const p = extractProduct(page('shopify-like.html'), `${BASE}/products/tropicana-apple-juice`);
    expect(p.source).toBe('json-ld');
    expect(p.title).toBe('Tropicana Apple Juice 1 L');
    expect(p.images.slice(0, 2)).toEqual([`${BASE}/images/tropicana-apple-juice__catalogue.jpg`, `${BASE}/images/tropicana-apple-juice__photo-2.jpg`]);
    expect(p.images).toContain(`${BASE}/images/tropicana-apple-juice__photo-1.jpg`); // og:image after the JSON-LD ones
    expect(p.price).toEqual({ amount: 24, currency: 'CNY' }); // lowPrice, not og:price 28.50
  });
});

describe('JSON-LD', () => {
  it('a Product with an array of Offers takes the lowest price; @type may be an array or a full IRI', () => {
    const html = ld({
      '@context': 'https://schema.org',
      '@type': ['Product', 'Thing'],
      name: '  Green   tea\n 100 g ',
      image: 'https://cdn.example/tea.jpg',
      offers: [
        { '@type': 'Offer', price: '12.90', priceCurrency: 'cny' },
        { '@type': 'Offer', price: 9.5, priceCurrency: 'CNY' },
      ],
    });
    expect(extractProduct(html, BASE)).toEqual({ title: 'Green tea 100 g', images: ['https://cdn.example/tea.jpg'], price: { amount: 9.5, currency: 'CNY' }, source: 'json-ld' });
    const iri = ld({ '@type': 'http://schema.org/Product', name: 'IRI', image: { '@type': 'ImageObject', contentUrl: '/a.jpg' } });
    expect(extractProduct(iri, `${BASE}/x/y`).images).toEqual([`${BASE}/a.jpg`]);
  });

  it('finds a Product nested as mainEntity, and a priceSpecification', () => {
    const html = ld({
      '@type': 'WebPage',
      mainEntity: { '@type': 'Product', name: 'Nested', image: ['img/1.jpg'], offers: { '@type': 'Offer', priceSpecification: { price: '1,299.00', priceCurrency: 'USD' } } },
    });
    const p = extractProduct(html, `${BASE}/shop/item`);
    expect(p.title).toBe('Nested');
    expect(p.images).toEqual([`${BASE}/shop/img/1.jpg`]);
    expect(p.price).toEqual({ amount: 1299, currency: 'USD' });
  });

  it('an AggregateOffer with only its offers listed; a price without currency is no price', () => {
    const agg = ld({ '@type': 'Product', name: 'A', offers: { '@type': 'AggregateOffer', offers: [{ price: 30, priceCurrency: 'EUR' }, { price: 20, priceCurrency: 'EUR' }] } });
    expect(extractProduct(agg, BASE).price).toEqual({ amount: 20, currency: 'EUR' });
    const nocur = ld({ '@type': 'Product', name: 'B', offers: { price: 5 } });
    expect(extractProduct(nocur, BASE).price).toBeUndefined();
  });

  it('missing JSON-LD parts are filled from Open Graph', () => {
    const html = `<meta property="og:image" content="https://cdn.example/og.jpg"><meta property="product:price:amount" content="7"><meta property="product:price:currency" content="GBP">${ld({ '@type': 'Product', name: 'LD title' })}`;
    expect(extractProduct(html, BASE)).toEqual({ title: 'LD title', images: ['https://cdn.example/og.jpg'], price: { amount: 7, currency: 'GBP' }, source: 'open-graph' });
  });

  it('broken JSON, non-product types and hostile image values are ignored', () => {
    const html = `<script type="application/ld+json">{"@type":"Product",</script>${ld({ '@type': 'Organization', name: 'Shop', logo: 'https://cdn.example/logo.jpg' })}${ld({ '@type': 'Product', image: ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'file:///etc/passwd', 42, null] })}<title>Fallback title</title>`;
    const p = extractProduct(html, BASE);
    expect(p.images).toEqual([]);
    expect(p.title).toBe('Fallback title');
    expect(p.source).toBe('fallback');
  });
});

describe('Open Graph / Twitter', () => {
  it('twitter:image and name= attributes; relative and protocol-relative URLs resolve against the page', () => {
    const html = `<meta name="twitter:image" content="//img.example/t.jpg"><meta name="twitter:title" content="T title"><meta property="og:image:secure_url" content="../s.jpg">`;
    const p = extractProduct(html, 'https://shop.example/a/b/page.html');
    expect(p.images).toEqual(['https://shop.example/a/s.jpg', 'https://img.example/t.jpg']);
    expect(p.title).toBe('T title');
    expect(p.source).toBe('open-graph');
  });

  it('a <base href> changes where relative URLs point', () => {
    const p = extractProduct('<base href="https://static.example/assets/"><meta property="og:image" content="p.jpg">', 'https://shop.example/item');
    expect(p.images).toEqual(['https://static.example/assets/p.jpg']);
  });
});

describe('marketplace fallback', () => {
  it('the largest declared <img> wins; tiny icons, sprites, data: URIs and svg are ignored', () => {
    const html = `
      <img src="/icons/cart.png" width="24" height="24">
      <img src="/small.jpg" width="200" height="200">
      <img src="data:image/jpeg;base64,AAAA" width="2000" height="2000">
      <img src="/ui/sprite.png" width="900" height="900">
      <img src="/vector.svg" width="1000" height="1000">
      <img src="/big.jpg" width="600" height="800">
      <img src="/undeclared.jpg">
      <img src="/tiny.gif" width="1" height="1">`;
    const p = extractProduct(html, BASE);
    expect(p.images).toEqual([`${BASE}/big.jpg`, `${BASE}/small.jpg`, `${BASE}/undeclared.jpg`]);
    expect(p.source).toBe('fallback');
  });

  it('lazy attributes (data-src, data-original, srcset) beat a placeholder src', () => {
    const html = `
      <img src="data:image/gif;base64,R0lGOD" data-original="/real-1.jpg" width="500" height="500">
      <img src="/spacer.gif" data-lazy-src="/real-2.jpg" width="400" height="400">
      <img srcset="/s-300.jpg 300w, /s-900.jpg 900w" width="300" height="300">`;
    expect(extractProduct(html, BASE).images).toEqual([`${BASE}/real-1.jpg`, `${BASE}/real-2.jpg`, `${BASE}/s-900.jpg`]);
  });

  it('title from <h1>, then <title>; price from a price element with a currency sign', () => {
    expect(extractProduct('<title>Page title</title><h1> Head  line </h1>', BASE).title).toBe('Head line');
    expect(extractProduct('<title>Only title</title>', BASE).title).toBe('Only title');
    expect(extractProduct('<div class="Offer-Price">US$ 4.50 / piece, MOQ 100</div>', BASE).price).toEqual({ amount: 4.5, currency: 'USD' });
    expect(extractProduct('<span class="price">49 元</span>', BASE).price).toEqual({ amount: 49, currency: 'CNY' });
    expect(extractProduct('<span class="price">call us</span>', BASE).price).toBeUndefined();
  });

  it('an empty or non-HTML document gives nothing', () => {
    expect(extractProduct('', BASE)).toEqual({ images: [], source: 'fallback' });
    expect(extractProduct('\u0000\u0001 binary', BASE)).toEqual({ images: [], source: 'fallback' });
  });
});

describe('decodePage', () => {
  const gbk = Buffer.from([0xd1, 0xe0, 0xc2, 0xf3, 0xc4, 0xcc]); // 燕麦奶
  it('uses the charset of the content type, then of <meta charset>, else UTF-8', () => {
    expect(decodePage(Buffer.concat([Buffer.from('<h1>'), gbk, Buffer.from('</h1>')]), 'text/html; charset=GBK')).toBe('<h1>燕麦奶</h1>');
    expect(decodePage(Buffer.concat([Buffer.from('<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><h1>'), gbk]), 'text/html')).toContain('燕麦奶');
    expect(decodePage(Buffer.from('<h1>燕麦奶</h1>'), 'text/html')).toBe('<h1>燕麦奶</h1>');
    expect(decodePage(Buffer.from('<h1>燕麦奶</h1>'), 'text/html; charset=no-such-charset')).toBe('<h1>燕麦奶</h1>');
  });
});
