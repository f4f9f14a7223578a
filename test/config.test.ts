// Settings from the environment: counts must be whole numbers, weights any finite number, and a bad value
// stops the start naming the setting instead of running with NaN or a fraction of a thread.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

describe('configuration from the environment', () => {
  it('has defaults for everything', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.search).toMatchObject({ candidates: 50, groupMates: 10, ocrWeight: 1 });
    expect(c.explicit).toEqual([]);
  });

  it('takes whole numbers for counts and fractions for weights', () => {
    const c = loadConfig({ SEARCH_CANDIDATES: '100', SEARCH_GROUP_MATES: '0', SEARCH_OCR_WEIGHT: '0.5', SUBSTITUTE_FLOOR: '0.4', WHITEN_SHRINK: '3', TEXT_SEMANTIC_FLOOR: '' });
    expect(c.search).toMatchObject({ candidates: 100, groupMates: 0, ocrWeight: 0.5, substituteFloor: 0.4 });
    expect(c.whitening.shrink).toBe(3);
    expect(c.text.semanticFloor).toBe(0.5); // empty = not set
    expect(c.explicit).toEqual(['SUBSTITUTE_FLOOR', 'WHITEN_SHRINK']);
  });

  for (const [name, value] of [
    ['JOBS_BATCH_SIZE', '6.5'],
    ['PORT', '-1'],
    ['SEARCH_CANDIDATES', 'fifty'],
    ['VISION_THREADS', '1e400'],
    ['SUBSTITUTE_FLOOR', 'abc'],
    ['SEARCH_OCR_WEIGHT', 'NaN'],
  ] as const)
    it(`refuses ${name}=${value}, naming it`, () => {
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name} must be`));
    });
});
