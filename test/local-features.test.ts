// Same-source detection by local features, on real catalogue images and real opencv-js: every reseller
// alteration of a catalogue picture must verify against its original; pictures of other products must
// not. No mocks: these are the components the lead wires into search.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readClasses, type GroceryClass } from '../src/demo/grocery.ts';
import { ALTERATIONS, makeCopy } from '../src/demo/reseller.ts';
import { matchDescriptors } from '../src/vision/local/hamming.ts';
import { wasmNn2 } from '../src/vision/local/hamming-wasm.ts';
import { alignedColour, mirrorGrid } from '../src/vision/local/colour.ts';
import {
  SAME_SOURCE,
  decodeLocal,
  encodeLocal,
  extractGalleryLocal,
  extractLocal,
  decodeGrey,
  isSameSource,
  verifyLocal,
  extractGrey,
  mirrorGrey,
  setOrbWorkers,
  orbWorkers,
  closeOrbPool,
  type LocalFeatures,
} from '../src/vision/local/index.ts';
import { ORB_FEATURES, mergeReadings, orbDetectOnce, raiseContrast } from '../src/vision/local/orb-core.mjs';

// Packaged goods of different brands and designs (siblings such as two Arla milks share most of their
// packaging and are left to the bench), plus two fruits.
const POSITIVES = ['Bravo-Apple-Juice', 'Oatly-Oat-Milk', 'Arla-Standard-Milk'];
const DIFFERENT = [
  'Bravo-Apple-Juice',
  'God-Morgon-Orange-Juice',
  'Tropicana-Apple-Juice',
  'Arla-Standard-Milk',
  'Garant-Ecological-Standard-Milk',
  'Oatly-Oat-Milk',
  'Alpro-Fresh-Soy-Milk',
  'Yoggi-Strawberry-Yoghurt',
  'Valio-Vanilla-Yoghurt',
  'Avocado',
  'Banana',
];

let classes: Map<string, GroceryClass>;
const bytes = new Map<string, Buffer>();
const gallery = new Map<string, LocalFeatures>();

beforeAll(async () => {
  classes = new Map((await readClasses()).map((c) => [c.name, c]));
  for (const name of DIFFERENT) {
    const c = classes.get(name);
    if (!c) throw new Error(`class ${name} not in the dataset`);
    bytes.set(name, fs.readFileSync(c.iconicPath));
    gallery.set(name, await extractGalleryLocal(bytes.get(name)!));
  }
});

describe('reseller copies verify against their original', () => {
  for (const name of POSITIVES)
    for (const kind of ALTERATIONS)
      it(`${name} · ${kind}`, async () => {
        const copy = await makeCopy(bytes.get(name)!, kind, 42);
        const q = await extractLocal(copy);
        const own = verifyLocal(q, gallery.get(name)!);
        expect(own.inliers, JSON.stringify(own)).toBeGreaterThanOrEqual(SAME_SOURCE.minInliers);
        expect(isSameSource(own)).toBe(true);
        if (kind === 'mirror') expect(own.mirrored).toBe(true);
        // and the copy is not mistaken for any other product
        for (const other of DIFFERENT) {
          if (other === name) continue;
          const v = verifyLocal(q, gallery.get(other)!);
          expect(isSameSource(v), `${other}: ${JSON.stringify(v)}`).toBe(false);
          expect(v.inliers).toBeLessThan(own.inliers);
        }
      });

  it('the affine model verifies too (rotated copy)', async () => {
    const name = POSITIVES[1];
    const q = await extractLocal(await makeCopy(bytes.get(name)!, 'rotate', 42));
    const v = verifyLocal(q, gallery.get(name)!, { model: 'affine' });
    expect(isSameSource(v), JSON.stringify(v)).toBe(true);
  });

  it('a mirrored copy fails without the mirrored query', async () => {
    const name = POSITIVES[0];
    const q = await extractLocal(await makeCopy(bytes.get(name)!, 'mirror', 42));
    const normalOnly = verifyLocal({ normal: q.normal }, gallery.get(name)!);
    expect(isSameSource(normalOnly), JSON.stringify(normalOnly)).toBe(false);
  });
});

describe('low-contrast pictures', () => {
  // A lemon, a nectarine and a garlic bulb on white, 198 px: at FAST's threshold they give 1–8 keypoints,
  // so no copy of them could reach the same-source rule. They are read again with raised contrast.
  const LOW = ['Lemon', 'Nectarine', 'Garlic'];
  const OTHERS = ['Orange', 'Cabbage', 'Regular-Tomato', 'Avocado', 'Banana'];
  const low = new Map<string, LocalFeatures>();
  beforeAll(async () => {
    for (const name of [...LOW, ...OTHERS]) {
      const c = classes.get(name);
      if (!c) throw new Error(`class ${name} not in the dataset`);
      if (!bytes.has(name)) bytes.set(name, fs.readFileSync(c.iconicPath));
      low.set(name, await extractGalleryLocal(bytes.get(name)!));
    }
  });

  it('are read again with raised contrast, keeping the first reading in front; a full first reading is kept as it is', async () => {
    for (const name of LOW) {
      const grey = await decodeGrey(bytes.get(name)!);
      const once = await orbDetectOnce(grey.data, grey.width, grey.height);
      expect(once.count, name).toBeLessThan(SAME_SOURCE.minInliers);
      const f = low.get(name)!;
      expect(f.count, name).toBeGreaterThan(10 * SAME_SOURCE.minInliers);
      expect(f.count).toBeLessThanOrEqual(ORB_FEATURES);
      expect(Buffer.from(f.desc.subarray(0, 32 * once.count)).equals(Buffer.from(once.desc))).toBe(true);
    }
    // a picture that fills the budget keeps exactly its first reading
    const grey = await decodeGrey(bytes.get('Bravo-Apple-Juice')!);
    const once = await orbDetectOnce(grey.data, grey.width, grey.height);
    expect(once.count).toBe(ORB_FEATURES);
    const f = await extractGalleryLocal(bytes.get('Bravo-Apple-Juice')!);
    expect(Buffer.from(f.desc).equals(Buffer.from(once.desc))).toBe(true);
  });

  it('the second reading adds only corners that are not already there, up to the budget', () => {
    const reading = (pts: number[][], tag: number) => ({
      width: 100,
      height: 100,
      count: pts.length,
      xy: new Float32Array(pts.flat()),
      desc: new Uint8Array(32 * pts.length).fill(tag),
    });
    const first = reading([[10, 10], [50, 50]], 1);
    const second = reading([[11, 11], [80, 80], [50, 53.5], [20, 90]], 2);
    const m = mergeReadings(first, second, 4);
    // (11, 11) is 1.4 px from (10, 10): the same corner; (50, 53.5) is 3.5 px away: another one
    expect([...m.xy]).toEqual([10, 10, 50, 50, 80, 80, 50, 53.5]);
    expect(m.count).toBe(4);
    expect([...m.desc.subarray(0, 64)].every((b) => b === 1)).toBe(true);
    expect([...m.desc.subarray(64)].every((b) => b === 2)).toBe(true);
    expect(mergeReadings(first, reading([[10.5, 10]], 2), 500)).toBe(first);
  });

  for (const name of LOW)
    for (const kind of ['crop', 'border', 'jpeg40'] as const)
      it(`${name} · ${kind} verifies against its original and no other product`, async () => {
        const q = await extractLocal(await makeCopy(bytes.get(name)!, kind, 42));
        const own = verifyLocal(q, low.get(name)!);
        expect(isSameSource(own), JSON.stringify(own)).toBe(true);
        for (const other of [...LOW, ...OTHERS]) {
          if (other === name) continue;
          const v = verifyLocal(q, low.get(other)!);
          expect(isSameSource(v), `${other}: ${JSON.stringify(v)}`).toBe(false);
        }
      });

  it('raising contrast stretches around the mean and clips', () => {
    const px = raiseContrast(new Uint8Array([100, 110, 120, 0, 255]), 3);
    // mean 117: 117 + 3·(100 − 117) = 66, …, clipped at both ends
    expect([...px]).toEqual([66, 96, 126, 0, 255]);
  });
});

describe('catalogue images of different products', () => {
  it('stay below the same-source rule, as they are and mirrored', async () => {
    const queries = new Map<string, Awaited<ReturnType<typeof extractLocal>>>();
    for (const name of DIFFERENT) queries.set(name, await extractLocal(bytes.get(name)!));
    for (const a of DIFFERENT)
      for (const b of DIFFERENT) {
        const v = verifyLocal(queries.get(a)!, gallery.get(b)!);
        if (a === b) expect(v.inliers).toBeGreaterThanOrEqual(100);
        else expect(isSameSource(v), `${a} vs ${b}: ${JSON.stringify(v)}`).toBe(false);
      }
  });
});

describe('storage and determinism', () => {
  it('the ORB worker threads give the very features the calling thread gives, and a dead worker fails only its own extractions', async () => {
    const before = orbWorkers();
    try {
      const greys = await Promise.all(DIFFERENT.slice(0, 4).map((n) => decodeGrey(bytes.get(n)!)));
      const inputs = [...greys, ...greys.map(mirrorGrey)];
      setOrbWorkers(0);
      const here = await Promise.all(inputs.map(extractGrey));
      setOrbWorkers(2);
      const pooled = await Promise.all(inputs.map(extractGrey));
      for (const [i, f] of pooled.entries()) {
        expect(f.count).toBeGreaterThan(100);
        expect(f.count).toBe(here[i].count);
        expect(Buffer.from(f.desc).equals(Buffer.from(here[i].desc))).toBe(true);
        expect(Buffer.from(f.xy.buffer, f.xy.byteOffset, f.xy.byteLength).equals(Buffer.from(here[i].xy.buffer, here[i].xy.byteOffset, here[i].xy.byteLength))).toBe(true);
      }
      // the caller's pixels are not taken away (a copy goes to the worker): they can still be mirrored
      expect(greys[0].data.length).toBe(greys[0].width * greys[0].height);
      // a worker ended while it holds extractions rejects them; the next extraction gets a fresh worker
      const held = Promise.allSettled(inputs.map(extractGrey));
      await closeOrbPool();
      const settled = await held;
      expect(settled.some((r) => r.status === 'rejected' && /exited/.test(String(r.reason)))).toBe(true);
      const again = await extractGrey(greys[1]);
      expect(Buffer.from(again.desc).equals(Buffer.from(here[1].desc))).toBe(true);
    } finally {
      setOrbWorkers(before);
    }
  });

  it('encode/decode round-trips exactly and verifies identically', async () => {
    const name = POSITIVES[1];
    const g = gallery.get(name)!;
    const enc = encodeLocal(g);
    expect(g.colour).toBeDefined();
    expect(Math.max(g.colour!.w, g.colour!.h)).toBe(32);
    expect(enc.length).toBe(12 + g.count * 36 + 2 + g.colour!.rgb.length);
    const dec = decodeLocal(enc);
    expect(dec.colour!.w).toBe(g.colour!.w);
    expect(Buffer.from(dec.colour!.rgb).equals(Buffer.from(g.colour!.rgb))).toBe(true);
    expect(dec.width).toBe(g.width);
    expect(dec.height).toBe(g.height);
    expect(dec.count).toBe(g.count);
    expect(Array.from(dec.xy)).toEqual(Array.from(g.xy));
    expect(Buffer.from(dec.desc).equals(Buffer.from(g.desc))).toBe(true);
    // an unaligned copy of the record (as read from a larger buffer) decodes too
    const shifted = Buffer.alloc(enc.length + 1);
    enc.copy(shifted, 1);
    const dec2 = decodeLocal(shifted.subarray(1));
    const q = await extractLocal(await makeCopy(bytes.get(name)!, 'combined', 5));
    expect(verifyLocal(q, dec2)).toEqual(verifyLocal(q, g));
    expect(() => decodeLocal(enc.subarray(0, enc.length - 1))).toThrow();
    // features stored before colour was kept (version 1) still decode, without colour
    const { colour: _c, ...plain } = g;
    const v1 = encodeLocal(plain);
    v1.writeUInt8(1, 2);
    expect(v1.length).toBe(12 + g.count * 36);
    const old = decodeLocal(v1);
    expect(old.colour).toBeUndefined();
    expect(old.count).toBe(g.count);
  });

  it('the same seed gives the same copy; another seed another one', async () => {
    const b = bytes.get(POSITIVES[0])!;
    for (const kind of ALTERATIONS) {
      const x = await makeCopy(b, kind, 9);
      const y = await makeCopy(b, kind, 9);
      expect(x.equals(y), kind).toBe(true);
    }
    expect((await makeCopy(b, 'crop', 9)).equals(await makeCopy(b, 'crop', 10))).toBe(false);
  });

  it('the same features give the same verification, and extraction is repeatable', async () => {
    const name = POSITIVES[2];
    const copy = await makeCopy(bytes.get(name)!, 'combined', 3);
    const q1 = await extractLocal(copy);
    const q2 = await extractLocal(copy);
    expect(Buffer.from(q1.normal.desc).equals(Buffer.from(q2.normal.desc))).toBe(true);
    const g = gallery.get(name)!;
    const v = verifyLocal(q1, g);
    for (let i = 0; i < 3; i++) expect(verifyLocal(q2, g)).toEqual(v);
  });

  it('the WebAssembly matcher gives exactly what the JavaScript one gives', async () => {
    expect(wasmNn2()).not.toBeNull();
    const q = await extractLocal(await makeCopy(bytes.get(POSITIVES[1])!, 'rotate', 1));
    for (const g of gallery.values()) {
      const a = matchDescriptors(q.normal.desc, q.normal.count, g.desc, g.count, 0.75, 'auto');
      const b = matchDescriptors(q.normal.desc, q.normal.count, g.desc, g.count, 0.75, 'js');
      expect(a).toEqual(b);
    }
  });

  it('accepts decoded greyscale pixels instead of bytes', async () => {
    const b = bytes.get(POSITIVES[0])!;
    const grey = await decodeGrey(b);
    expect(Math.max(grey.width, grey.height)).toBe(480);
    const fromGrey = await extractGalleryLocal(grey);
    expect(Buffer.from(fromGrey.desc).equals(Buffer.from(gallery.get(POSITIVES[0])!.desc))).toBe(true);
  });
});

describe('colour inside the aligned region', () => {
  // Two flavours of one juice share the pack (ORB aligns them as if they were one photo); the juice in the
  // glass and the fruit are of another colour. A reseller copy of either agrees with its own original.
  const SIBLINGS = ['God-Morgon-Orange-Juice', 'God-Morgon-Red-Grapefruit-Juice'];
  const agreement = async (q: Awaited<ReturnType<typeof extractLocal>>, g: LocalFeatures) => {
    const v = verifyLocal(q, g);
    const qf = v.mirrored ? q.mirrored : q.normal;
    expect(v.transform).not.toBeNull();
    return { v, c: alignedColour(qf.colour!, qf, g.colour!, g, v.transform!, v.box) };
  };

  it('tells sibling packs apart where the features cannot', async () => {
    const [a, b] = await Promise.all(SIBLINGS.map(async (n) => fs.readFileSync(classes.get(n)!.iconicPath)));
    const ga = await extractGalleryLocal(a);
    const gb = await extractGalleryLocal(b);
    const sibling = await agreement(await extractLocal(b), ga);
    // the premise: geometry alone calls them the same
    expect(sibling.v.inliers).toBeGreaterThanOrEqual(SAME_SOURCE.minInliers);
    for (const kind of ['crop', 'combined', 'mirror'] as const) {
      const own = await agreement(await extractLocal(await makeCopy(b, kind, 7)), gb);
      expect(own.c.cells, kind).toBeGreaterThanOrEqual(8);
      expect(own.c.chromaP90, kind).toBeLessThan(sibling.c.chromaP90);
      expect(own.c.p90, kind).toBeLessThan(sibling.c.p90);
    }
  });

  it('a grid mirrored twice is the grid', async () => {
    const g = gallery.get(POSITIVES[0])!.colour!;
    expect(Buffer.from(mirrorGrid(mirrorGrid(g)).rgb).equals(Buffer.from(g.rgb))).toBe(true);
    expect(Buffer.from(mirrorGrid(g).rgb).equals(Buffer.from(g.rgb))).toBe(false);
  });
});

describe('the features the evidence model was fitted with', () => {
  // opencv.js 4.5.2 under extraction rule 1 (the avocado, 478 keypoints, gets a second reading) gives the
  // features behind models/evidence.json; a library, sharp, working-scale or rule change that moves a
  // single keypoint shows here, before it silently shifts the evidence
  it('are bit-for-bit those of opencv.js 4.5.2 on three catalogue images, as they are and mirrored', async () => {
    const h = createHash('sha256');
    for (const name of ['Bravo-Apple-Juice', 'Oatly-Oat-Milk', 'Avocado']) {
      const grey = await decodeGrey(bytes.get(name)!);
      for (const f of [await extractGrey(grey), await extractGrey(mirrorGrey(grey))]) {
        h.update(`${f.width}x${f.height}:${f.count};`);
        h.update(Buffer.from(f.xy.buffer, f.xy.byteOffset, f.xy.byteLength));
        h.update(f.desc);
      }
    }
    expect(h.digest('hex')).toBe('105a92c5873b8328d3b9ad9313d4d3b412db05b72beca5988b9269e2b1d8b853');
  });
});

