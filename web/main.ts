// The buyer's page: one search box (photos, words, links), region selection on a photo, filters kept in
// the URL, same-source groups then substitutes. Plain DOM, no framework; talks to this origin only.

type Region = { x: number; y: number; w: number; h: number };
type Money = { amount: number; currency: string };
type Listing = {
  id: string;
  title: string;
  titleTranslated?: string;
  categoryPath: string[];
  price?: Money;
  moq?: number;
  supplier?: { id: string; name: string; badges: string[]; province?: string; city?: string };
  images: Array<{ url?: string; ref: string }>;
  similarity: number;
};
type Group = {
  groupId: string;
  verdict?: 'same' | 'likely';
  confidence: number;
  source: Listing;
  sourceReason: string;
  listings: Listing[];
  listingCount: number;
  priceRange: { min: number; max: number; currency: string } | null;
  evidence: { summary: string[]; calibrated: boolean };
};
type Substitute = {
  listing: Listing;
  similarity: number;
  priceDelta: { amount: number; percent: number | null; currency: string; reference: 'request' | 'source' | 'link' } | null;
  sameProductChance?: number;
};
type Answer = {
  query: {
    kind: string;
    link?: { url: string; title?: string; price?: Money; extractedFrom: string };
    translation?: { terms: string[] };
    referencePrice: { amount: number; currency: string; from: string } | null;
  };
  sameSource: Group[];
  substitutes: Substitute[];
};
type Filters = { priceMin?: number; priceMax?: number; maxMoq?: number; province?: string; category?: string; badge?: 'factory' };
type Photo = { id: number; file: File; url: string; region: Region | null };

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('search-form');
const q = $<HTMLInputElement>('q');
const photoInput = $<HTMLInputElement>('photo-input');
const photosSection = $('photos');
const photoList = $<HTMLUListElement>('photo-list');
const statusEl = $('status');
const groupsEl = $<HTMLOListElement>('groups');
const subsEl = $<HTMLOListElement>('subs');
const FILTER_FIELDS = ['priceMin', 'priceMax', 'maxMoq', 'province', 'category'] as const;
const LIMIT = 20;

let photos: Photo[] = [];
let nextPhotoId = 1;
let searchSeq = 0;

// ------------------------------------------------------------------------------------------ helpers

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string | null>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null) e.append(c);
  return e;
}

function money(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency, currencyDisplay: 'narrowSymbol', maximumFractionDigits: 2 }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

const isLink = (s: string) => /^https?:\/\/\S+$/i.test(s.trim());

function setStatus(msg: string, kind: 'info' | 'error' | 'busy' = 'info') {
  statusEl.textContent = msg;
  statusEl.dataset.kind = kind;
}

// ------------------------------------------------------------------------------------------ filters and URL

function readFilters(): Filters {
  const f: Filters = {};
  const num = (id: string) => {
    const v = $<HTMLInputElement>(id).value.trim();
    return v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
  };
  const pMin = num('f-priceMin');
  const pMax = num('f-priceMax');
  const moq = num('f-maxMoq');
  if (pMin !== undefined && pMin >= 0) f.priceMin = pMin;
  if (pMax !== undefined && pMax >= 0) f.priceMax = pMax;
  if (moq !== undefined && moq >= 1) f.maxMoq = Math.floor(moq);
  const province = $<HTMLInputElement>('f-province').value.trim();
  const category = $<HTMLInputElement>('f-category').value.trim();
  if (province) f.province = province;
  if (category) f.category = category;
  if ($<HTMLInputElement>('f-factory').checked) f.badge = 'factory';
  return f;
}

function writeFilters(f: Filters) {
  for (const k of FILTER_FIELDS) $<HTMLInputElement>(`f-${k}`).value = f[k] === undefined ? '' : String(f[k]);
  $<HTMLInputElement>('f-factory').checked = f.badge === 'factory';
  updateFilterCount(f);
}

function updateFilterCount(f: Filters = readFilters()) {
  const n = Object.keys(f).length;
  $('filter-count').textContent = n ? `(${n} on)` : '';
}

function stateToUrl(text: string, f: Filters) {
  const p = new URLSearchParams();
  if (text) p.set(isLink(text) ? 'url' : 'q', text);
  for (const k of FILTER_FIELDS) if (f[k] !== undefined) p.set(k, String(f[k]));
  if (f.badge === 'factory') p.set('factory', '1');
  const qs = p.toString();
  const next = `${location.pathname}${qs ? `?${qs}` : ''}`;
  if (next !== `${location.pathname}${location.search}`) history.pushState(null, '', next);
}

function stateFromUrl(): { text: string; filters: Filters } {
  const p = new URLSearchParams(location.search);
  const f: Filters = {};
  for (const k of ['priceMin', 'priceMax', 'maxMoq'] as const) {
    const v = p.get(k);
    if (v !== null && v !== '' && Number.isFinite(Number(v))) f[k] = Number(v);
  }
  for (const k of ['province', 'category'] as const) {
    const v = p.get(k);
    if (v) f[k] = v;
  }
  if (p.get('factory') === '1') f.badge = 'factory';
  return { text: p.get('url') ?? p.get('q') ?? '', filters: f };
}

// ------------------------------------------------------------------------------------------ photos

function addFiles(files: Iterable<File>) {
  let added = 0;
  for (const file of files) {
    if (!file.type.startsWith('image/')) continue;
    photos.push({ id: nextPhotoId++, file, url: URL.createObjectURL(file), region: null });
    added++;
  }
  if (!added) {
    setStatus('That is not a photo: choose a JPEG, PNG or WebP image.', 'error');
    return;
  }
  renderPhotos();
  void runSearch();
}

function removePhoto(id: number) {
  const p = photos.find((x) => x.id === id);
  if (p) URL.revokeObjectURL(p.url);
  photos = photos.filter((x) => x.id !== id);
  renderPhotos();
  if (photos.length) void runSearch();
}

const PRESETS: Array<[string, Region | null]> = [
  ['Whole photo', null],
  ['Centre', { x: 0.2, y: 0.2, w: 0.6, h: 0.6 }],
  ['Top half', { x: 0, y: 0, w: 1, h: 0.5 }],
  ['Bottom half', { x: 0, y: 0.5, w: 1, h: 0.5 }],
  ['Left half', { x: 0, y: 0, w: 0.5, h: 1 }],
  ['Right half', { x: 0.5, y: 0, w: 0.5, h: 1 }],
];

function placeBox(box: HTMLElement, r: Region | null) {
  box.hidden = r === null;
  if (!r) return;
  box.style.left = `${r.x * 100}%`;
  box.style.top = `${r.y * 100}%`;
  box.style.width = `${r.w * 100}%`;
  box.style.height = `${r.h * 100}%`;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
const round4 = (v: number) => Math.round(v * 10000) / 10000;

function renderPhotos() {
  photosSection.hidden = photos.length === 0;
  photoList.replaceChildren();
  photos.forEach((p, i) => {
    const img = el('img', { src: p.url, alt: `Your photo ${i + 1}`, draggable: 'false' });
    const box = el('div', { class: 'region-box', 'aria-hidden': 'true' });
    const stage = el('div', { class: 'stage', 'data-photo': String(p.id), title: 'Drag to search part of the photo' }, img, box);
    placeBox(box, p.region);
    attachRegionDrag(stage, box, p);
    const regionNote = el('p', { class: 'region-note' }, p.region ? 'Searching the part in the box' : 'Searching the whole photo');
    const presets = el('div', { class: 'presets', role: 'group', 'aria-label': `Part of photo ${i + 1} to search` });
    for (const [label, r] of PRESETS) {
      const b = el('button', { type: 'button', class: 'chip', 'aria-pressed': String(JSON.stringify(p.region) === JSON.stringify(r)) }, label === 'Whole photo' ? 'Search whole photo' : label);
      b.addEventListener('click', () => {
        p.region = r;
        renderPhotos();
        void runSearch();
      });
      presets.append(b);
    }
    const remove = el('button', { type: 'button', class: 'secondary small' }, `Remove photo ${i + 1}`);
    remove.addEventListener('click', () => removePhoto(p.id));
    photoList.append(el('li', { class: 'photo' }, stage, regionNote, presets, remove));
  });
}

function attachRegionDrag(stage: HTMLElement, box: HTMLElement, p: Photo) {
  let start: { x: number; y: number } | null = null;
  let current: Region | null = null;
  const frac = (e: PointerEvent) => {
    const r = stage.getBoundingClientRect();
    return { x: clamp01((e.clientX - r.left) / r.width), y: clamp01((e.clientY - r.top) / r.height) };
  };
  stage.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    stage.setPointerCapture(e.pointerId);
    start = frac(e);
    current = null;
  });
  stage.addEventListener('pointermove', (e) => {
    if (!start) return;
    const f = frac(e);
    current = { x: Math.min(start.x, f.x), y: Math.min(start.y, f.y), w: Math.abs(f.x - start.x), h: Math.abs(f.y - start.y) };
    placeBox(box, current);
  });
  const end = () => {
    if (!start) return;
    start = null;
    const r = current;
    current = null;
    if (!r || r.w < 0.03 || r.h < 0.03) {
      placeBox(box, p.region); // a click, not a drag
      return;
    }
    p.region = { x: round4(r.x), y: round4(r.y), w: round4(Math.min(r.w, 1 - r.x)), h: round4(Math.min(r.h, 1 - r.y)) };
    renderPhotos();
    void runSearch();
  };
  stage.addEventListener('pointerup', end);
  stage.addEventListener('pointercancel', () => {
    start = null;
    placeBox(box, p.region);
  });
}

// ------------------------------------------------------------------------------------------ search

async function post(body: BodyInit, json: boolean): Promise<Answer> {
  const res = await fetch('/v1/search', {
    method: 'POST',
    body,
    headers: json ? { 'content-type': 'application/json' } : undefined,
  });
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`the service answered ${res.status}`);
  }
  if (!res.ok) {
    const err = (data as { error?: { message?: string } }).error;
    throw new Error(err?.message ?? `the service answered ${res.status}`);
  }
  return data as Answer;
}

/** Several photos of one product: each listing keeps its best similarity, each group its best confidence. */
function merge(answers: Answer[]): Answer {
  if (answers.length === 1) return answers[0];
  const groups = new Map<string, Group>();
  for (const a of answers)
    for (const g of a.sameSource) {
      const prev = groups.get(g.source.id);
      if (!prev || g.confidence > prev.confidence || (g.confidence === prev.confidence && g.source.similarity > prev.source.similarity)) groups.set(g.source.id, g);
    }
  const inGroups = new Set([...groups.values()].flatMap((g) => [g.source.id, ...g.listings.map((l) => l.id)]));
  const subs = new Map<string, Substitute>();
  for (const a of answers)
    for (const s of a.substitutes) {
      if (inGroups.has(s.listing.id)) continue;
      const prev = subs.get(s.listing.id);
      if (!prev || s.similarity > prev.similarity) subs.set(s.listing.id, s);
    }
  return {
    query: answers[0].query,
    sameSource: [...groups.values()].sort((x, y) => y.confidence - x.confidence || y.source.similarity - x.source.similarity),
    substitutes: [...subs.values()].sort((x, y) => y.similarity - x.similarity).slice(0, LIMIT),
  };
}

async function runSearch(opts: { pushUrl?: boolean } = {}) {
  const text = q.value.trim();
  const filters = readFilters();
  updateFilterCount(filters);
  if (opts.pushUrl !== false) stateToUrl(text, filters);
  if (!photos.length && !text) {
    setStatus('Type words, paste a product link, or add a photo to search.', 'info');
    return;
  }
  const seq = ++searchSeq;
  const hasFilters = Object.keys(filters).length > 0;
  form.setAttribute('aria-busy', 'true');
  setStatus(photos.length > 1 ? `Searching with ${photos.length} photos…` : 'Searching…', 'busy');
  try {
    let answer: Answer;
    if (photos.length) {
      const answers = await Promise.all(
        photos.map((p) => {
          const fd = new FormData();
          fd.append('image', p.file, p.file.name || 'photo.jpg');
          if (p.region) fd.append('region', JSON.stringify(p.region));
          if (text && !isLink(text)) fd.append('text', text);
          if (hasFilters) fd.append('filters', JSON.stringify(filters));
          fd.append('limit', String(LIMIT));
          fd.append('lang', 'en');
          return post(fd, false);
        }),
      );
      answer = merge(answers);
    } else if (isLink(text)) {
      answer = await post(JSON.stringify({ url: text, limit: LIMIT, lang: 'en', ...(hasFilters ? { filters } : {}) }), true);
    } else {
      answer = await post(JSON.stringify({ text, limit: LIMIT, lang: 'en', ...(hasFilters ? { filters } : {}) }), true);
    }
    if (seq !== searchSeq) return; // a newer search has started
    render(answer);
    const n = answer.sameSource.length + answer.substitutes.length;
    const what = photos.length ? `${photos.length === 1 ? 'your photo' : `${photos.length} photos`}` : isLink(text) ? 'the link' : `“${text}”`;
    setStatus(
      n
        ? `${answer.sameSource.length} same-product group${answer.sameSource.length === 1 ? '' : 's'} and ${answer.substitutes.length} substitute${answer.substitutes.length === 1 ? '' : 's'} for ${what}${hasFilters ? ' (filtered)' : ''}.`
        : `Nothing found for ${what}${hasFilters ? ' with these filters: try fewer filters' : ''}.`,
      'info',
    );
  } catch (e) {
    if (seq !== searchSeq) return;
    render(null);
    setStatus(`Search failed: ${(e as Error).message}`, 'error');
  } finally {
    if (seq === searchSeq) form.removeAttribute('aria-busy');
  }
}

// ------------------------------------------------------------------------------------------ results

function thumb(l: Listing, size: 'big' | 'small' = 'small'): HTMLElement {
  const ref = l.images[0]?.ref;
  const wrap = el('div', { class: `thumb ${size}` });
  const placeholder = () => wrap.replaceChildren(el('span', { class: 'placeholder', 'aria-hidden': 'true' }, 'No photo'));
  if (!ref) {
    placeholder();
    return wrap;
  }
  const img = el('img', { src: `/v1/images/${ref.split('/').map(encodeURIComponent).join('/')}`, alt: '', loading: 'lazy', decoding: 'async' });
  img.addEventListener('error', placeholder, { once: true });
  wrap.append(img);
  return wrap;
}

function badges(l: Listing): HTMLElement | null {
  const b = l.supplier?.badges ?? [];
  if (!b.length) return null;
  const names: Record<string, string> = { factory: 'Factory', verified: 'Verified', trade_assurance: 'Trade assurance', gold: 'Gold supplier' };
  return el('p', { class: 'badges' }, ...b.map((x) => el('span', { class: `badge badge-${x}` }, names[x] ?? x)));
}

function priceLine(l: Listing): HTMLElement {
  const p = el('p', { class: 'price-line' });
  if (l.price) p.append(el('span', { class: 'price', 'data-price': String(l.price.amount), 'data-currency': l.price.currency }, money(l.price.amount, l.price.currency)));
  else p.append(el('span', { class: 'price unknown' }, 'price on request'));
  p.append(el('span', { class: 'moq' }, l.moq ? `MOQ ${l.moq.toLocaleString('en')}` : 'no minimum order'));
  return p;
}

function supplierLine(l: Listing): HTMLElement | null {
  const s = l.supplier;
  if (!s) return null;
  const where = [s.city, s.province].filter((x, i, a) => x && a.indexOf(x) === i).join(', ');
  return el('p', { class: 'supplier' }, s.name, where ? el('span', { class: 'where' }, ` · ${where}`) : null);
}

function titleOf(l: Listing): HTMLElement {
  const h = el('h3', { class: 'title' }, l.title);
  if (l.titleTranslated) h.append(el('span', { class: 'gloss', lang: 'en' }, ` (${l.titleTranslated})`));
  return h;
}

function renderGroup(g: Group, i: number): HTMLElement {
  const s = g.source;
  const others = g.listingCount - 1;
  const pct = Math.round(g.confidence * 100);
  const body = el(
    'div',
    { class: 'card-body' },
    el('p', { class: 'kicker' }, g.verdict === 'likely' ? 'Possibly the same product (not proven)' : i === 0 ? 'Best match · likely source' : 'Likely source'),
    titleOf(s),
    badges(s),
    priceLine(s),
    supplierLine(s),
    el('p', { class: 'why' }, `Chosen as the source because: ${g.sourceReason.replace(/\.\s*$/, '')}.`),
    el(
      'p',
      { class: 'sellers' },
      others > 0 ? `${others} other listing${others === 1 ? '' : 's'} sell${others === 1 ? 's' : ''} this` : 'No other listing sells this',
      g.priceRange ? ` · ${g.priceRange.min === g.priceRange.max ? money(g.priceRange.min, g.priceRange.currency) : `${money(g.priceRange.min, g.priceRange.currency)} – ${money(g.priceRange.max, g.priceRange.currency)}`}` : '',
    ),
    el('p', { class: 'confidence' }, `About ${pct}% sure it is the same product`, g.evidence.calibrated ? '' : ' (a rough estimate)'),
    g.evidence.summary.length ? el('ul', { class: 'evidence', 'aria-label': 'Why we think so' }, ...g.evidence.summary.map((x) => el('li', {}, x))) : null,
  );
  const article = el('article', { class: 'card-inner', 'data-listing-id': s.id }, thumb(s, 'big'), body);
  if (g.listings.length) {
    const list = el(
      'ul',
      { class: 'others' },
      ...g.listings.map((l) => el('li', { class: 'other', 'data-listing-id': l.id }, thumb(l), el('div', { class: 'card-body' }, titleOf(l), badges(l), priceLine(l), supplierLine(l)))),
    );
    article.append(el('details', { class: 'others-box' }, el('summary', {}, `See the ${g.listings.length} other listing${g.listings.length === 1 ? '' : 's'}`), list));
  }
  return el('li', { class: 'card group', 'data-group-id': g.groupId }, article);
}

function deltaLine(d: Substitute['priceDelta']): HTMLElement | null {
  if (!d) return null;
  const pct = d.percent === null ? '' : ` (${Math.abs(Math.round(d.percent))}%)`;
  if (Math.abs(d.amount) < 0.005) return el('p', { class: 'delta same' }, 'Same price');
  const cheaper = d.amount < 0;
  return el('p', { class: `delta ${cheaper ? 'cheaper' : 'dearer'}`, 'data-delta': String(d.amount) }, `${money(Math.abs(d.amount), d.currency)} ${cheaper ? 'cheaper' : 'dearer'}${pct}`);
}

function renderSub(s: Substitute): HTMLElement {
  const l = s.listing;
  return el(
    'li',
    { class: 'card sub', 'data-listing-id': l.id },
    thumb(l),
    el('div', { class: 'card-body' }, titleOf(l), badges(l), priceLine(l), deltaLine(s.priceDelta), supplierLine(l), el('p', { class: 'sim' }, `${Math.round(Math.max(0, s.similarity) * 100)}% alike`),
      // a look-alike we could not rule out as the very product says so, rather than pass for a substitute
      s.sameProductChance !== undefined && s.sameProductChance >= 0.5 ? el('p', { class: 'maybe-same' }, `Could be the same product (${Math.round(s.sameProductChance * 100)}%): not proven`) : null),
  );
}

function render(a: Answer | null) {
  groupsEl.replaceChildren(...(a?.sameSource ?? []).map(renderGroup));
  subsEl.replaceChildren(...(a?.substitutes ?? []).map(renderSub));
  $('same-section').hidden = !a?.sameSource.length;
  $('subs-section').hidden = !a?.substitutes.length;
  const ref = a?.query.referencePrice;
  const from = ref?.from === 'link' ? 'the linked page' : ref?.from === 'request' ? 'your price' : 'the likely source';
  $('subs-ref').textContent = ref ? `Price differences are against ${money(ref.amount, ref.currency)} (${from}).` : '';
}

// ------------------------------------------------------------------------------------------ wiring

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void runSearch();
});
$('add-photo').addEventListener('click', () => photoInput.click());
photoInput.addEventListener('change', () => {
  if (photoInput.files?.length) addFiles([...photoInput.files]);
  photoInput.value = '';
});
$('clear-photos').addEventListener('click', () => {
  for (const p of photos) URL.revokeObjectURL(p.url);
  photos = [];
  renderPhotos();
  render(null);
  setStatus(q.value.trim() ? 'Photos removed.' : 'Photos removed. Type words, paste a link or add a photo.');
  q.focus();
});
$('clear-filters').addEventListener('click', () => {
  writeFilters({});
  void runSearch();
});
for (const id of ['f-priceMin', 'f-priceMax', 'f-maxMoq', 'f-province', 'f-category', 'f-factory']) $(id).addEventListener('change', () => updateFilterCount());

// paste a photo anywhere on the page (text pastes into the box as usual)
document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
  if (files.length) {
    e.preventDefault();
    addFiles(files);
  }
});

// drag and drop anywhere on the page
let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) document.body.classList.remove('dragging');
});
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  const dt = e.dataTransfer;
  if (!dt) return;
  if (dt.files.length) return addFiles([...dt.files]);
  const link = dt.getData('text/uri-list') || dt.getData('text/plain');
  if (link) {
    q.value = link.split('\n')[0].trim();
    void runSearch();
  }
});

function restore() {
  const { text, filters } = stateFromUrl();
  q.value = text;
  writeFilters(filters);
  if (Object.keys(filters).length) $<HTMLDetailsElement>('filters').open = true;
  if (text) void runSearch({ pushUrl: false });
  else if (!photos.length) render(null);
}
window.addEventListener('popstate', restore);
restore();
