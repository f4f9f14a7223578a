// Seeded "reseller copies" of a catalogue picture: what a trading company does to a factory's photo
// before relisting it (crop, watermark, border, recompression, downsizing, slight rotation, mirroring,
// promotional text). Used to measure and test same-source detection; nothing here runs at serve time.
// The same (bytes, kind, seed) always gives the same output bytes.
import sharp, { type Sharp } from 'sharp';
import { mulberry32 } from '../util/prng.ts';

export const ALTERATIONS = ['crop', 'watermark', 'border', 'jpeg40', 'half', 'rotate', 'mirror', 'text-zh', 'text-en', 'combined'] as const;
export type Alteration = (typeof ALTERATIONS)[number];

/** Promotional lines resellers stamp on pictures. */
export const ZH_TEXTS = ['厂家直销 包邮', '热卖 限时特价', '正品保证 一件代发', '新品上市 买二送一'];
export const EN_TEXTS = ['Hot sale! Free shipping', 'Factory direct price', 'Best quality 100% original', 'Wholesale · Dropshipping'];
const SHOP_NAMES = ['SUPER-MART', 'BestBuy88', 'Golden Trade Co.', 'Happy Shop'];

// Font families in fallback order. No CJK font is installed on the dev machine (`fc-list :lang=zh` is
// empty), so Chinese text renders as missing-glyph boxes there: still an overlay of the same size and
// contrast, which is what matters for the features underneath, but not a faithful rendering.
const FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'WenQuanYi Zen Hei', 'Source Han Sans SC', 'DejaVu Sans', sans-serif";

interface Raw {
  data: Buffer;
  width: number;
  height: number;
}

type Rand = () => number;
const between = (r: Rand, lo: number, hi: number) => lo + (hi - lo) * r();
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** One reseller copy of `bytes`, encoded as JPEG (quality 40 where the alteration says so, else 90). */
export async function makeCopy(bytes: Uint8Array, kind: Alteration, seed: number): Promise<Buffer> {
  if (!ALTERATIONS.includes(kind)) throw new Error(`unknown alteration ${String(kind)}`);
  // the kind is mixed into the seed so that "crop" and "combined" with the same seed do not share draws
  const rand = mulberry32((seed ^ hashString(kind)) >>> 0);
  let img = await toRaw(sharp(bytes).rotate());
  let quality = 90;
  const steps: Exclude<Alteration, 'combined'>[] = kind === 'combined' ? combinedSteps(rand) : [kind];
  for (const step of steps) {
    if (step === 'jpeg40') quality = 40;
    else img = await apply(step, img, rand);
  }
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
}

// Three or four of the single alterations, in the order a reseller would apply them (geometry, then
// stamps, then the frame), always ending with heavy recompression.
function combinedSteps(rand: Rand): Exclude<Alteration, 'combined'>[] {
  const geometric = (['crop', 'rotate', 'mirror', 'half'] as const).filter(() => rand() < 0.5);
  const stamps = [pick(rand, ['text-zh', 'text-en'] as const), ...(rand() < 0.6 ? (['watermark'] as const) : [])];
  const frame = rand() < 0.5 ? (['border'] as const) : [];
  const steps = [...geometric.slice(0, 2), ...stamps, ...frame, 'jpeg40' as const];
  if (steps.length < 4 && !steps.includes('crop')) steps.unshift('crop');
  return steps;
}

async function apply(step: Exclude<Alteration, 'combined' | 'jpeg40'>, img: Raw, rand: Rand): Promise<Raw> {
  const s = () => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  switch (step) {
    case 'crop': {
      // keep 70–90% of each side, window placed at random
      const w = Math.round(img.width * between(rand, 0.7, 0.9));
      const h = Math.round(img.height * between(rand, 0.7, 0.9));
      const left = Math.floor(rand() * (img.width - w + 1));
      const top = Math.floor(rand() * (img.height - h + 1));
      return toRaw(s().extract({ left, top, width: w, height: h }));
    }
    case 'border': {
      const pad = Math.max(1, Math.round(Math.max(img.width, img.height) * between(rand, 0.05, 0.15)));
      return toRaw(s().extend({ top: pad, bottom: pad, left: pad, right: pad, background: randomColour(rand) }));
    }
    case 'half':
      return toRaw(s().resize(Math.max(1, Math.round(img.width / 2)), Math.max(1, Math.round(img.height / 2))));
    case 'rotate': {
      const angle = between(rand, 3, 8) * (rand() < 0.5 ? -1 : 1);
      // sharp enlarges the canvas to hold the rotated picture; resellers fill the corners with white
      return toRaw(s().rotate(angle, { background: '#ffffff' }));
    }
    case 'mirror':
      return toRaw(s().flop());
    case 'watermark':
      return overlay(img, rand() < 0.5 ? tiledWatermark(img, rand) : cornerLogo(img, rand));
    case 'text-zh':
      return overlay(img, banner(img, rand, pick(rand, ZH_TEXTS)));
    case 'text-en':
      return overlay(img, banner(img, rand, pick(rand, EN_TEXTS)));
  }
}

async function toRaw(p: Sharp): Promise<Raw> {
  const { data, info } = await p.flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function overlay(img: Raw, svg: string): Promise<Raw> {
  const p = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  return toRaw(p);
}

/** A shop name repeated diagonally over the whole picture, faint. */
function tiledWatermark(img: Raw, rand: Rand): string {
  const { width: W, height: H } = img;
  const name = pick(rand, SHOP_NAMES);
  const size = Math.max(8, Math.round(Math.min(W, H) * between(rand, 0.06, 0.1)));
  const opacity = between(rand, 0.25, 0.45).toFixed(2);
  const fill = rand() < 0.5 ? '#ffffff' : '#808080';
  const stepX = size * (name.length * 0.75 + 2);
  const stepY = size * 3;
  const rows: string[] = [];
  for (let y = -H; y < 2 * H; y += stepY)
    for (let x = -W + ((y / stepY) % 2) * (stepX / 2); x < 2 * W; x += stepX)
      rows.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}">${escapeXml(name)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
  <g transform="rotate(-30 ${W / 2} ${H / 2})" font-family="${FONT}" font-size="${size}" font-weight="bold" fill="${fill}" fill-opacity="${opacity}" stroke="#000000" stroke-opacity="${(Number(opacity) / 2).toFixed(2)}" stroke-width="${Math.max(0.5, size / 30).toFixed(1)}">${rows.join('')}</g>
</svg>`;
}

/** A round logo with the shop's name in one corner, semi-transparent. */
function cornerLogo(img: Raw, rand: Rand): string {
  const { width: W, height: H } = img;
  const r = Math.round(Math.min(W, H) * between(rand, 0.08, 0.14));
  const m = Math.round(r * 0.3);
  const corner = Math.floor(rand() * 4);
  const cx = corner % 2 === 0 ? m + r : W - m - r;
  const cy = corner < 2 ? m + r : H - m - r;
  const name = pick(rand, SHOP_NAMES);
  const colour = randomColour(rand);
  const opacity = between(rand, 0.5, 0.75).toFixed(2);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
  <g opacity="${opacity}">
    <circle cx="${cx}" cy="${cy}" r="${r}" fill="${colour}" stroke="#ffffff" stroke-width="${Math.max(1, r / 10).toFixed(1)}"/>
    <text x="${cx}" y="${cy + r * 0.12}" text-anchor="middle" font-family="${FONT}" font-size="${(r * 0.34).toFixed(1)}" font-weight="bold" fill="#ffffff">${escapeXml(name.slice(0, 8))}</text>
  </g>
</svg>`;
}

/** A promotional strip across the top or the bottom: coloured band, bold text. */
function banner(img: Raw, rand: Rand, text: string): string {
  const { width: W, height: H } = img;
  const h = Math.round(H * between(rand, 0.1, 0.16));
  const y = rand() < 0.5 ? 0 : H - h;
  const band = pick(rand, ['#d7000f', '#ff6a00', '#e4393c', '#111111']);
  const opacity = between(rand, 0.75, 0.95).toFixed(2);
  // fit the text to the band's width: CJK glyphs are about one em wide, Latin ones about 0.55 em
  const ems = [...text].reduce((n, ch) => n + (ch.charCodeAt(0) > 0x2e80 ? 1 : 0.58), 0);
  const size = Math.max(6, Math.min(h * 0.7, (W * 0.92) / ems));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
  <rect x="0" y="${y}" width="${W}" height="${h}" fill="${band}" fill-opacity="${opacity}"/>
  <text x="${W / 2}" y="${(y + h / 2 + size * 0.36).toFixed(1)}" text-anchor="middle" font-family="${FONT}" font-size="${size.toFixed(1)}" font-weight="bold" fill="#ffffff">${escapeXml(text)}</text>
</svg>`;
}

function randomColour(rand: Rand): string {
  const c = () => Math.floor(rand() * 256).toString(16).padStart(2, '0');
  return `#${c()}${c()}${c()}`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
