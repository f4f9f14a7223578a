// Builds the committed demo catalogue (demo/catalogue/) and demo queries (demo/queries/) from the shared
// Grocery Store Dataset. Deterministic: running it twice gives byte-identical output.
//
//   npx tsx scripts/build-demo-catalogue.ts        (dataset location: env GROCERY_DIR or ../shared/datasets/grocery-store)
//
// Only the train split feeds the catalogue; test photos are the demo's queries and val is never touched.
import { mulberry32 } from '../src/util/prng.ts';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ProductId, ProductInput } from '../src/schema/product.ts';
import {
  REPO_ROOT,
  classSlug,
  classTitle,
  groceryRoot,
  readClasses,
  readSplit,
  type GroceryClass,
  type GrocerySample,
} from '../src/demo/grocery.ts';

const OUT_DIR = path.join(REPO_ROOT, 'demo', 'catalogue');
const QUERIES_DIR = path.join(REPO_ROOT, 'demo', 'queries');
const MAX_TOTAL_BYTES = 15_000_000; // demo/catalogue budget (15 MB, decimal, to be safe)
const ICONIC_MAX_SIDE = 640;
const PHOTO_MAX_SIDE = 480;
const PHOTOS_PER_PRODUCT = 3;
const QUERIES_PER_PACKAGED_CLASS = 2;
const QUALITY_STEPS = [80, 75, 70, 65, 60, 55, 50];
/** The 6 products copied to demo/queries/ (different coarse classes, each with substitutes in the catalogue). */
const DEMO_QUERY_CLASSES = [
  'Arla-Standard-Milk',
  'Oatly-Oat-Milk',
  'Tropicana-Apple-Juice',
  'Alpro-Fresh-Soy-Milk',
  'Yoggi-Strawberry-Yoghurt',
  'Arla-Sour-Cream',
];

// ---------------------------------------------------------------------------------------------
// Seeded PRNG: mulberry32 over a 32-bit FNV-1a hash of a string key.
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


const rngFor = (key: string) => mulberry32(fnv1a(key));
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const round2 = (x: number) => Math.round(x * 100) / 100;

function seededShuffle<T>(xs: readonly T[], key: string): T[] {
  const rnd = rngFor(key);
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Hand-written Chinese titles. Brand names (Arla, Tropicana, Oatly...) and cultivar names without an
// established Chinese name (Conference, Kaiser, Galia) stay in Latin script, as on Chinese import listings.
const TITLE_ZH: Record<string, string> = {
  'Golden-Delicious': '金冠苹果',
  'Granny-Smith': '澳洲青苹果',
  'Pink-Lady': '粉红佳人苹果',
  'Red-Delicious': '蛇果',
  'Royal-Gala': '皇家嘎啦苹果',
  Avocado: '牛油果',
  Banana: '香蕉',
  Kiwi: '猕猴桃',
  Lemon: '柠檬',
  Lime: '青柠',
  Mango: '芒果',
  Cantaloupe: '罗马甜瓜',
  'Galia-Melon': 'Galia 甜瓜',
  'Honeydew-Melon': '白兰瓜',
  Watermelon: '西瓜',
  Nectarine: '油桃',
  Orange: '橙子',
  Papaya: '木瓜',
  'Passion-Fruit': '百香果',
  Peach: '桃子',
  Anjou: '安琪梨',
  Conference: 'Conference 梨',
  Kaiser: 'Kaiser 梨',
  Pineapple: '菠萝',
  Plum: '李子',
  Pomegranate: '石榴',
  'Red-Grapefruit': '红西柚',
  Satsumas: '温州蜜柑',
  'Bravo-Apple-Juice': 'Bravo 苹果汁',
  'Bravo-Orange-Juice': 'Bravo 橙汁',
  'God-Morgon-Apple-Juice': 'God Morgon 苹果汁',
  'God-Morgon-Orange-Juice': 'God Morgon 橙汁',
  'God-Morgon-Orange-Red-Grapefruit-Juice': 'God Morgon 橙子红西柚混合果汁',
  'God-Morgon-Red-Grapefruit-Juice': 'God Morgon 红西柚汁',
  'Tropicana-Apple-Juice': 'Tropicana 苹果汁',
  'Tropicana-Golden-Grapefruit': 'Tropicana 黄金西柚汁',
  'Tropicana-Juice-Smooth': 'Tropicana 无果肉橙汁',
  'Tropicana-Mandarin-Morning': 'Tropicana 柑橘葡萄橙混合果汁',
  'Arla-Ecological-Medium-Fat-Milk': 'Arla 有机半脱脂牛奶',
  'Arla-Lactose-Medium-Fat-Milk': 'Arla 无乳糖半脱脂牛奶',
  'Arla-Medium-Fat-Milk': 'Arla 半脱脂牛奶',
  'Arla-Standard-Milk': 'Arla 全脂牛奶',
  'Garant-Ecological-Medium-Fat-Milk': 'Garant 有机半脱脂牛奶',
  'Garant-Ecological-Standard-Milk': 'Garant 有机全脂牛奶',
  'Oatly-Natural-Oatghurt': 'Oatly 原味燕麦酸奶',
  'Oatly-Oat-Milk': 'Oatly 燕麦奶',
  'Arla-Ecological-Sour-Cream': 'Arla 有机酸奶油',
  'Arla-Sour-Cream': 'Arla 酸奶油',
  'Arla-Sour-Milk': 'Arla 发酵乳',
  'Alpro-Blueberry-Soyghurt': 'Alpro 蓝莓大豆酸奶',
  'Alpro-Vanilla-Soyghurt': 'Alpro 香草大豆酸奶',
  'Alpro-Fresh-Soy-Milk': 'Alpro 冷藏豆奶',
  'Alpro-Shelf-Soy-Milk': 'Alpro 常温豆奶',
  'Arla-Mild-Vanilla-Yoghurt': 'Arla 温和香草酸奶',
  'Arla-Natural-Mild-Low-Fat-Yoghurt': 'Arla 原味温和低脂酸奶',
  'Arla-Natural-Yoghurt': 'Arla 原味酸奶',
  'Valio-Vanilla-Yoghurt': 'Valio 香草酸奶',
  'Yoggi-Strawberry-Yoghurt': 'Yoggi 草莓酸奶',
  'Yoggi-Vanilla-Yoghurt': 'Yoggi 香草酸奶',
  Asparagus: '芦笋',
  Aubergine: '茄子',
  Cabbage: '卷心菜',
  Carrots: '胡萝卜',
  Cucumber: '黄瓜',
  Garlic: '大蒜',
  Ginger: '生姜',
  Leek: '韭葱',
  'Brown-Cap-Mushroom': '褐色双孢菇',
  'Yellow-Onion': '黄洋葱',
  'Green-Bell-Pepper': '绿甜椒',
  'Orange-Bell-Pepper': '橙甜椒',
  'Red-Bell-Pepper': '红甜椒',
  'Yellow-Bell-Pepper': '黄甜椒',
  'Floury-Potato': '粉质土豆',
  'Solid-Potato': '蜡质土豆',
  'Sweet-Potato': '红薯',
  'Red-Beet': '红甜菜',
  'Beef-Tomato': '牛排番茄',
  'Regular-Tomato': '番茄',
  'Vine-Tomato': '串番茄',
  Zucchini: '西葫芦',
};

// ---------------------------------------------------------------------------------------------
// Synthetic commerce data. Prices: CNY per kg (produce) or per 1 L / 1 kg pack (packaged goods), wholesale level.
const PRICE_RANGE: Record<string, [number, number]> = {
  Apple: [6, 14], Avocado: [24, 42], Banana: [4, 8], Kiwi: [12, 24], Lemon: [8, 15], Lime: [12, 20],
  Mango: [10, 22], Melon: [5, 14], Nectarine: [10, 20], Orange: [6, 12], Papaya: [8, 15], 'Passion-Fruit': [12, 24],
  Peach: [8, 18], Pear: [8, 16], Pineapple: [5, 10], Plum: [10, 20], Pomegranate: [10, 20], 'Red-Grapefruit': [8, 14],
  Satsumas: [6, 12],
  Juice: [12, 26], Milk: [10, 20], Oatghurt: [20, 34], 'Oat-Milk': [18, 30], 'Sour-Cream': [16, 28],
  'Sour-Milk': [14, 24], Soyghurt: [18, 30], 'Soy-Milk': [14, 24], Yoghurt: [14, 26],
  Asparagus: [25, 48], Aubergine: [4, 9], Cabbage: [2, 5], Carrots: [3, 6], Cucumber: [3, 7], Garlic: [6, 14],
  Ginger: [8, 16], Leek: [6, 12], Mushroom: [10, 20], Onion: [2, 5], Pepper: [6, 14], Potato: [2, 6],
  'Red-Beet': [4, 9], Tomato: [5, 12], Zucchini: [4, 8],
};

type Place = readonly [province: string, city: string];
const ORIGINS: Record<'Fruit' | 'Vegetables' | 'Packages', readonly Place[]> = {
  Fruit: [
    ['Shandong', 'Yantai'], ['Shaanxi', "Xi'an"], ['Guangxi', 'Nanning'], ['Hainan', 'Haikou'], ['Yunnan', 'Kunming'],
    ['Sichuan', 'Chengdu'], ['Fujian', 'Zhangzhou'], ['Guangdong', 'Zhanjiang'], ['Xinjiang', 'Urumqi'], ['Jiangxi', 'Ganzhou'],
  ],
  Vegetables: [
    ['Shandong', 'Weifang'], ['Hebei', 'Shijiazhuang'], ['Henan', 'Zhengzhou'], ['Jiangsu', 'Xuzhou'], ['Yunnan', 'Kunming'],
    ['Gansu', 'Lanzhou'], ['Shandong', 'Jinan'], ['Hubei', 'Wuhan'], ['Inner Mongolia', 'Ulanqab'], ['Guangdong', 'Guangzhou'],
  ],
  Packages: [
    ['Inner Mongolia', 'Hohhot'], ['Heilongjiang', 'Harbin'], ['Shanghai', 'Shanghai'], ['Tianjin', 'Tianjin'],
    ['Guangdong', 'Guangzhou'], ['Zhejiang', 'Hangzhou'], ['Jiangsu', 'Suzhou'], ['Beijing', 'Beijing'], ['Hebei', 'Shijiazhuang'],
  ],
};
const TRADE_HUBS: readonly Place[] = [
  ['Guangdong', 'Guangzhou'], ['Guangdong', 'Shenzhen'], ['Zhejiang', 'Yiwu'], ['Zhejiang', 'Hangzhou'], ['Shanghai', 'Shanghai'],
  ['Jiangsu', 'Nanjing'], ['Fujian', 'Xiamen'], ['Shandong', 'Qingdao'], ['Hubei', 'Wuhan'], ['Sichuan', 'Chengdu'],
  ['Hunan', 'Changsha'], ['Beijing', 'Beijing'], ['Tianjin', 'Tianjin'], ['Henan', 'Zhengzhou'], ['Chongqing', 'Chongqing'],
];
const NAME_WORDS = [
  'Hengtai', 'Jiahe', 'Xinyuan', 'Fengshou', 'Lvyuan', 'Ruifeng', 'Huamei', 'Tianrun', 'Jinhai', 'Yongsheng', 'Dongfang',
  'Baixin', 'Hongda', 'Anxin', 'Kangyuan', 'Shengda', 'Xiangyu', 'Mingrui', 'Haoyun', 'Zhongxin', 'Fuhai', 'Longteng',
  'Qianhe', 'Yuehua',
] as const;
const DAIRY = new Set(['Milk', 'Sour-Cream', 'Sour-Milk', 'Yoghurt']);
const PHOTO_TITLE_SUFFIXES = ['wholesale', 'bulk supply', 'in stock', 'export quality', 'fast delivery'] as const;
const BASE_DATE = Date.UTC(2024, 0, 2, 0, 0, 0);
const DAY = 86_400_000;

/** Packaged goods: the brand (first name token, "God-Morgon" as one). Produce: the coarse class. */
function factoryKey(c: GroceryClass): string {
  if (c.topFolder !== 'Packages') return c.coarseName;
  return c.name.startsWith('God-Morgon-') ? 'God-Morgon' : (c.name.split('-')[0] as string);
}

interface Supplier {
  id: string;
  name: string;
  badges: ('factory' | 'verified' | 'trade_assurance' | 'gold')[];
  province: string;
  city: string;
}

function factorySupplier(c: GroceryClass): Supplier {
  const key = factoryKey(c);
  const rnd = rngFor(`factory/${key}`);
  const [province, city] = pick(rnd, ORIGINS[c.topFolder]);
  const word = pick(rnd, NAME_WORDS);
  const industry =
    c.topFolder === 'Fruit' ? 'Fruit Industry' : c.topFolder === 'Vegetables' ? 'Agricultural Products' : DAIRY.has(c.coarseName) ? 'Dairy' : 'Beverage';
  return {
    id: `sup-factory-${classSlug(key)}`,
    name: `${city} ${word} ${industry} Co., Ltd.`,
    badges: ['factory', 'verified'],
    province,
    city,
  };
}

/** A fixed pool of reseller suppliers shared by all photo listings. */
const RESELLERS: Supplier[] = NAME_WORDS.map((word, k) => {
  const rnd = rngFor(`reseller/${k}`);
  const [province, city] = pick(rnd, TRADE_HUBS);
  return {
    id: `sup-reseller-${String(k + 1).padStart(2, '0')}`,
    name: `${city} ${word} Trading Co., Ltd.`,
    badges: rnd() < 0.5 ? ['verified'] : [],
    province,
    city,
  };
});

/** The first sentence; if that is very short ("Fresh cucumber."), the following ones up to ~40 characters. */
function shortDescription(text: string, minChars = 40): string {
  const sentences = text.match(/[^.!?]*[.!?]+(?=\s|$)|[^.!?]+$/g) ?? [text];
  let out = '';
  for (const s of sentences) {
    out = out ? `${out} ${s.trim()}` : s.trim();
    if (out.length >= minChars) break;
  }
  return out;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
interface Encoded {
  file: string; // relative to demo/catalogue (or demo/queries)
  source: string; // relative to the dataset root
  bytes: Buffer;
  downscaled: boolean;
}

async function encode(src: string, maxSide: number, quality: number): Promise<{ bytes: Buffer; downscaled: boolean }> {
  const img = sharp(src, { failOn: 'error' }).rotate();
  const meta = await sharp(src).metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  const w = (swap ? meta.height : meta.width) ?? 0;
  const h = (swap ? meta.width : meta.height) ?? 0;
  const bytes = await img
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality, mozjpeg: true })
    .toBuffer();
  return { bytes, downscaled: Math.max(w, h) > maxSide };
}

function rel(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function main() {
  const root = groceryRoot();
  const classes = await readClasses(root);
  if (classes.length !== 81) throw new Error(`expected 81 classes, got ${classes.length}`);
  const missingZh = classes.filter((c) => !TITLE_ZH[c.name]).map((c) => c.name);
  if (missingZh.length) throw new Error(`no titleZh for: ${missingZh.join(', ')}`);
  const [train, test] = await Promise.all([readSplit('train', root), readSplit('test', root)]);

  // Phone photos for listings: first PHOTOS_PER_PRODUCT train photos per class, by sorted path.
  const trainByClass = new Map<number, GrocerySample[]>();
  for (const s of train) {
    if (!s.relPath.startsWith('dataset/train/')) throw new Error(`train.txt lists a non-train path: ${s.relPath}`);
    const list = trainByClass.get(s.fineId) ?? [];
    list.push(s);
    trainByClass.set(s.fineId, list);
  }
  const testByClass = new Map<number, GrocerySample[]>();
  for (const s of test) {
    const list = testByClass.get(s.fineId) ?? [];
    list.push(s);
    testByClass.set(s.fineId, list);
  }
  const byPath = (a: GrocerySample, b: GrocerySample) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0);

  // Listings (JSON) do not depend on image quality; build them once.
  const lines: string[] = [];
  const imageJobs: { file: string; src: string; maxSide: number }[] = [];
  for (const c of classes) {
    const slug = classSlug(c.name);
    const title = classTitle(c.name);
    const categoryPath = [c.topFolder, c.coarseName];
    const titleZh = TITLE_ZH[c.name] as string;
    const range = PRICE_RANGE[c.coarseName];
    if (!range) throw new Error(`no price range for coarse class ${c.coarseName}`);
    const base = range[0] + (range[1] - range[0]) * rngFor(`base/${slug}`)();
    const packaged = c.topFolder === 'Packages';

    // Catalogue (factory) listing.
    {
      const id = `${slug}-catalogue`;
      const rnd = rngFor(id);
      const amount = round2(base * (0.78 + 0.08 * rnd()));
      const moq = pick(rnd, packaged ? [240, 480, 600, 1200] : [200, 300, 500, 1000]);
      const file = `images/${slug}__catalogue.jpg`;
      imageJobs.push({ file, src: c.iconicPath, maxSide: ICONIC_MAX_SIDE });
      lines.push(
        serialise(id, {
          title,
          description: c.description,
          categoryPath,
          price: {
            amount,
            currency: 'CNY',
            tiers: [
              { minQuantity: moq, amount },
              { minQuantity: moq * 5, amount: round2(amount * 0.95) },
              { minQuantity: moq * 20, amount: round2(amount * 0.9) },
            ],
          },
          moq,
          supplier: factorySupplier(c),
          listedAt: isoSeconds(BASE_DATE + Math.floor(rnd() * 60) * DAY + Math.floor(rnd() * 10 * 3600) * 1000 + 8 * 3600_000),
          images: [{ path: file }],
          attributes: { fineClass: c.name, coarseClass: c.coarseName, kind: 'catalogue', titleZh },
        }),
      );
    }

    // Photo (reseller) listings from the train split.
    const photos = (trainByClass.get(c.id) ?? []).slice().sort(byPath).slice(0, PHOTOS_PER_PRODUCT);
    if (photos.length < PHOTOS_PER_PRODUCT) throw new Error(`${c.name}: only ${photos.length} train photos`);
    const resellers = seededShuffle(RESELLERS, `resellers/${slug}`).slice(0, PHOTOS_PER_PRODUCT);
    const suffixes = seededShuffle(PHOTO_TITLE_SUFFIXES, `suffixes/${slug}`);
    photos.forEach((p, i) => {
      const id = `${slug}-photo-${i + 1}`;
      const rnd = rngFor(id);
      const amount = round2(base * (1.0 + 0.35 * rnd()));
      const moq = pick(rnd, packaged ? [12, 24, 48, 60] : [10, 20, 50, 100]);
      const file = `images/${slug}__photo-${i + 1}.jpg`;
      imageJobs.push({ file, src: p.path, maxSide: PHOTO_MAX_SIDE });
      const withTiers = rnd() < 0.5;
      lines.push(
        serialise(id, {
          title: `${title} – ${suffixes[i]}`,
          description: shortDescription(c.description),
          categoryPath,
          price: {
            amount,
            currency: 'CNY',
            ...(withTiers ? { tiers: [{ minQuantity: moq, amount }, { minQuantity: moq * 10, amount: round2(amount * 0.93) }] } : {}),
          },
          moq,
          supplier: resellers[i] as Supplier,
          listedAt: isoSeconds(BASE_DATE + (90 + Math.floor(rnd() * 400)) * DAY + Math.floor(rnd() * 12 * 3600) * 1000 + 8 * 3600_000),
          images: [{ path: file }],
          attributes: { fineClass: c.name, coarseClass: c.coarseName, kind: 'photo', titleZh },
        }),
      );
    });
  }
  const jsonl = lines.join('\n') + '\n';

  // Queries: test-split photos of packaged goods (never copied into the catalogue).
  const queryLines: string[] = [];
  const queriesByClass = new Map<string, string[]>();
  for (const c of classes.filter((x) => x.topFolder === 'Packages')) {
    const pool = (testByClass.get(c.id) ?? []).filter((s) => s.relPath.startsWith('dataset/test/Packages/')).sort(byPath);
    if (pool.length < QUERIES_PER_PACKAGED_CLASS) throw new Error(`${c.name}: only ${pool.length} packaged test photos`);
    const chosen = seededShuffle(pool, `queries/${classSlug(c.name)}`).slice(0, QUERIES_PER_PACKAGED_CLASS).sort(byPath);
    queriesByClass.set(c.name, chosen.map((s) => s.relPath));
    queryLines.push(...chosen.map((s) => s.relPath));
  }

  const license = await readFile(path.join(root, 'LICENSE'), 'utf8');

  // Encode; lower the quality until the catalogue fits the budget.
  let chosenQuality = 0;
  let images: Encoded[] = [];
  let total = 0;
  for (const q of QUALITY_STEPS) {
    images = [];
    for (const job of imageJobs) {
      const { bytes, downscaled } = await encode(job.src, job.maxSide, q);
      images.push({ file: job.file, source: rel(root, job.src), bytes, downscaled });
    }
    const attribution = attributionMd(q, images);
    total =
      images.reduce((n, i) => n + i.bytes.length, 0) +
      Buffer.byteLength(jsonl) +
      Buffer.byteLength(license) +
      Buffer.byteLength(attribution);
    if (total <= MAX_TOTAL_BYTES) {
      chosenQuality = q;
      break;
    }
    console.log(`quality ${q}: ${(total / 1e6).toFixed(2)} MB > budget, retrying lower`);
  }
  if (!chosenQuality) throw new Error(`catalogue does not fit ${MAX_TOTAL_BYTES} bytes even at the lowest quality`);

  // Write demo/catalogue/ from scratch.
  await rm(OUT_DIR, { recursive: true, force: true });
  await mkdir(path.join(OUT_DIR, 'images'), { recursive: true });
  for (const img of images) await writeFile(path.join(OUT_DIR, img.file), img.bytes);
  await writeFile(path.join(OUT_DIR, 'catalogue.jsonl'), jsonl);
  await writeFile(path.join(OUT_DIR, 'LICENSE'), license);
  await writeFile(path.join(OUT_DIR, 'ATTRIBUTION.md'), attributionMd(chosenQuality, images));
  await writeFile(path.join(OUT_DIR, 'queries.txt'), queryLines.join('\n') + '\n');

  // demo/queries/: one test photo each for a few packaged products.
  await rm(QUERIES_DIR, { recursive: true, force: true });
  await mkdir(QUERIES_DIR, { recursive: true });
  const demoQueries: { file: string; cls: GroceryClass; source: string }[] = [];
  for (const name of DEMO_QUERY_CLASSES) {
    const cls = classes.find((c) => c.name === name);
    const source = queriesByClass.get(name)?.[0];
    if (!cls || !source) throw new Error(`demo query class ${name} not found`);
    const file = `${classSlug(name)}.jpg`;
    const { bytes } = await encode(path.join(root, source), PHOTO_MAX_SIDE, chosenQuality);
    await writeFile(path.join(QUERIES_DIR, file), bytes);
    demoQueries.push({ file, cls, source });
  }
  await writeFile(path.join(QUERIES_DIR, 'README.md'), queriesReadme(demoQueries, chosenQuality));

  // Self-check: every line validates.
  for (const line of lines) {
    const { id, ...rest } = JSON.parse(line) as Record<string, unknown>;
    ProductId.parse(id);
    ProductInput.parse(rest);
  }

  const imgBytes = images.reduce((n, i) => n + i.bytes.length, 0);
  console.log(`dataset: ${root}`);
  console.log(`products: ${lines.length} (${classes.length} catalogue + ${lines.length - classes.length} photo listings)`);
  console.log(`images: ${images.length} files, ${(imgBytes / 1e6).toFixed(2)} MB, JPEG quality ${chosenQuality} (mozjpeg)`);
  console.log(`demo/catalogue total: ${total} bytes (${(total / 1e6).toFixed(2)} MB, budget ${MAX_TOTAL_BYTES / 1e6} MB)`);
  console.log(`queries.txt: ${queryLines.length} test photos; demo/queries: ${demoQueries.length} images`);
  console.log(`sha256 catalogue.jsonl: ${sha256(jsonl)}`);
  console.log(`sha256 images (concatenated in order): ${sha256(Buffer.concat(images.map((i) => i.bytes)))}`);
}

function serialise(id: string, listing: Record<string, unknown>): string {
  return JSON.stringify({ id, ...listing });
}

function attributionMd(quality: number, images: Encoded[]): string {
  const iconic = images.filter((i) => i.file.endsWith('__catalogue.jpg'));
  const photos = images.filter((i) => !i.file.endsWith('__catalogue.jpg'));
  const downscaled = images.filter((i) => i.downscaled).length;
  return `# Attribution

The images and product texts in this directory come from the **Grocery Store Dataset**:

> Marcus Klasson, Cheng Zhang and Hedvig Kjellström, "A Hierarchical Grocery Store Image Dataset with Visual and
> Semantic Labels", IEEE Winter Conference on Applications of Computer Vision (WACV), 2019.
> https://arxiv.org/abs/1901.00711 — https://github.com/marcusklasson/GroceryStoreDataset

Licence: MIT, Copyright (c) 2019 Marcus Klasson — see [LICENSE](LICENSE) (a verbatim copy of the dataset's licence).
Upstream, the iconic images and product descriptions were downloaded by the dataset authors from Swedish grocery
retailers' websites; the natural photos were taken by them with a smartphone in grocery stores. Product and brand
names (Arla, Tropicana, Oatly, Alpro, ...) are trademarks of their owners; this demo is not affiliated with them.

## What was taken
- For each of the 81 fine classes: its name, coarse class and top folder (Fruit / Vegetables / Packages), its
  **iconic image** and its English **product description** (\`*_Description.txt\`), from \`dataset/classes.csv\`.
- ${photos.length} **phone photos**: the first ${PHOTOS_PER_PRODUCT} photos of each class in the **train** split
  (\`dataset/train.txt\`), by sorted path. Nothing from the val or test split is in this directory; test photos are the
  demo's queries (\`queries.txt\` lists ${QUERIES_PER_PACKAGED_CLASS} test photos per packaged-goods class by path only; six of them are
  copied to \`demo/queries/\`).

## How it was transformed
- Images: decoded with sharp (libvips), EXIF orientation applied (\`.rotate()\`), resized to fit inside
  ${ICONIC_MAX_SIDE} px (iconic images) or ${PHOTO_MAX_SIDE} px (phone photos) on the longer side without enlarging
  (${downscaled} of ${images.length} needed downscaling; the originals are 198 px iconic images and ~348×348 px photos),
  converted to sRGB, metadata stripped, re-encoded as JPEG quality ${quality} with mozjpeg.
- Texts: titles are the class names with dashes as spaces; catalogue listings carry the description text (trimmed);
  photo listings carry its first sentence (two if the first is very short) and a reseller-style title suffix.
- \`attributes.titleZh\` are hand-written Chinese titles (brand and some cultivar names kept in Latin script).

## What is synthetic
Everything commercial is invented, generated deterministically from a seeded PRNG (mulberry32 over an FNV-1a hash
of the listing id): prices, price tiers, MOQs, supplier ids, names and badges, listing dates and the title suffixes.
Supplier provinces/cities are real Chinese places picked pseudo-randomly; the companies do not exist. Catalogue
listings stand for the factory's own listing (badges \`factory\`, \`verified\`; earliest listing date, wholesale price);
photo listings stand for resellers' listings of the same product.

## Files
${iconic.length} iconic + ${photos.length} photo images; each file and its source (relative to the dataset root):

${images.map((i) => `- \`${i.file}\` ← \`${i.source}\``).join('\n')}
`;
}

function queriesReadme(qs: { file: string; cls: GroceryClass; source: string }[], quality: number): string {
  return `# Demo queries

Six buyer photos for the README's curl example and the browser tests: one **test-split** phone photo each of six
packaged products (never part of the demo catalogue, which only uses the train split). For each, the expected
same-source hits are that product's catalogue listing (\`<slug>-catalogue\`) and its photo listings; other products of
the same coarse class are the expected substitutes.

| File | Product (fine class) | Coarse class | Expected listing | Source (dataset root) |
|---|---|---|---|---|
${qs
  .map((q) => `| \`${q.file}\` | ${classTitle(q.cls.name)} (\`${q.cls.name}\`) | ${q.cls.coarseName} | \`${classSlug(q.cls.name)}-catalogue\` | \`${q.source}\` |`)
  .join('\n')}

Re-encoded with sharp: EXIF orientation applied, longer side at most ${PHOTO_MAX_SIDE} px, JPEG quality ${quality} (mozjpeg),
metadata stripped. Built by \`scripts/build-demo-catalogue.ts\`.

From the Grocery Store Dataset by Marcus Klasson, Cheng Zhang and Hedvig Kjellström (WACV 2019), MIT licence —
see [../catalogue/LICENSE](../catalogue/LICENSE) and [../catalogue/ATTRIBUTION.md](../catalogue/ATTRIBUTION.md).
`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
