// A product link → what to search with. The page is fetched through the guarded fetcher; a URL that is
// itself an image is the photo; an HTML page is read (extract.ts) and its product image fetched through the
// same fetcher, hop by hop checked like the page. The page's title becomes the query words and its price
// the reference price for substitutes.
import { AppError } from '../errors.ts';
import type { GuardedFetcher } from './fetcher.ts';
import { extractProduct, type ExtractSource, type LinkPrice } from './extract.ts';

export const PAGE_TYPES = ['text/html', 'application/xhtml+xml', 'image/'];
/** images of a page tried in turn when one cannot be fetched (a dead CDN link, a placeholder) */
const MAX_IMAGE_TRIES = 3;

export interface LinkInfo {
  url: string;
  title?: string;
  image?: string;
  price?: LinkPrice;
  extractedFrom: ExtractSource | 'image';
}

export interface LinkQuery {
  image?: Uint8Array;
  text?: string;
  price?: LinkPrice;
  link: LinkInfo;
}

const isImage = (ct: string) => /^image\//i.test(ct.trim());

/** The page's text in its declared charset (header, then <meta charset>; many Chinese marketplaces serve GBK), else UTF-8. */
export function decodePage(body: Buffer, contentType: string): string {
  const head = body.subarray(0, 2048).toString('latin1');
  const declared =
    contentType.match(/charset\s*=\s*"?([\w.:-]+)/i)?.[1] ??
    head.match(/<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i)?.[1];
  if (declared && !/^utf-?8$/i.test(declared)) {
    try {
      return new TextDecoder(declared.toLowerCase()).decode(body);
    } catch {
      // an unknown label: read as UTF-8
    }
  }
  return new TextDecoder('utf-8').decode(body);
}

export async function resolveLink(fetcher: Pick<GuardedFetcher, 'fetch' | 'fetchImage'>, url: string, opts: { maxBytes?: number } = {}): Promise<LinkQuery> {
  const page = await fetcher.fetch(url, { accept: PAGE_TYPES, maxBytes: opts.maxBytes });
  if (isImage(page.contentType)) return { image: page.body, link: { url, image: page.url, extractedFrom: 'image' } };

  const found = extractProduct(decodePage(page.body, page.contentType), page.url);
  let image: Uint8Array | undefined;
  let imageUrl: string | undefined;
  let lastError: AppError | undefined;
  for (const candidate of found.images.slice(0, MAX_IMAGE_TRIES)) {
    try {
      image = (await fetcher.fetchImage(candidate, opts.maxBytes)).body;
      imageUrl = candidate;
      break;
    } catch (e) {
      // a refused address is an answer, not a dead link: never fall through to the next image
      if (!(e instanceof AppError) || e.code === 'url_not_allowed') throw e;
      lastError = e;
    }
  }
  if (!image && !found.title) {
    if (lastError) throw lastError;
    throw new AppError('fetch_failed', 'the page shows no product image or title to search with');
  }
  return {
    image,
    text: found.title,
    price: found.price,
    link: {
      url,
      ...(found.title ? { title: found.title } : {}),
      ...(imageUrl ? { image: imageUrl } : {}),
      ...(found.price ? { price: found.price } : {}),
      extractedFrom: found.source,
    },
  };
}
