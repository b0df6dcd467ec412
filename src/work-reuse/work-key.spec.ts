import { createHash } from 'node:crypto';
import { stepsKey, stepWorkKey, stepWorkKeyText, workKey } from './work-key';

const SHA = 'a'.repeat(64);
const grayscale = { name: 'grayscale' as const, version: 1 };
const context = { pngCompression: 1 };

describe('workKey', () => {
  it('is the same for the same input, operation, version, params and encoder setting, whatever the key order', () => {
    const key = workKey(SHA, grayscale, { a: 1, b: { c: [1, 2], d: 'x' } }, context);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(workKey(SHA, grayscale, { b: { d: 'x', c: [1, 2] }, a: 1 }, context)).toBe(key);
  });

  it('differs when any part of the work differs', () => {
    const key = workKey(SHA, grayscale, {}, context);
    expect(workKey('b'.repeat(64), grayscale, {}, context)).not.toBe(key);
    expect(workKey(SHA, { name: 'invert', version: 1 }, {}, context)).not.toBe(key);
    expect(workKey(SHA, { ...grayscale, version: 2 }, {}, context)).not.toBe(key);
    expect(workKey(SHA, grayscale, { width: 1 }, context)).not.toBe(key);
    expect(workKey(SHA, grayscale, { c: [2, 1] }, context)).not.toBe(workKey(SHA, grayscale, { c: [1, 2] }, context));
    expect(workKey(SHA, grayscale, {}, { pngCompression: 6 })).not.toBe(key);
  });

  it('treats absent params as empty ones', () => {
    expect(workKey(SHA, grayscale, undefined, context)).toBe(workKey(SHA, grayscale, {}, context));
  });
});

describe('stepWorkKey', () => {
  it('names a step by its operation, with the catalogue’s version, and its params', () => {
    expect(stepWorkKey(SHA, { name: 'grayscale', params: {} }, context)).toBe(workKey(SHA, grayscale, {}, context));
    expect(stepWorkKey(SHA, { name: 'resize', params: { width: 10 } }, context)).toBe(
      workKey(SHA, { name: 'resize', version: 1 }, { width: 10 }, context),
    );
  });
});

describe('stepWorkKeyText', () => {
  it('is the text the key hashes, either side of the input sha256, so that SQL can compute the same key', () => {
    const step = { name: 'resize' as const, params: { width: 10 } };
    const { before, after } = stepWorkKeyText(step, context);
    expect(
      createHash('sha256')
        .update(before + SHA + after)
        .digest('hex'),
    ).toBe(stepWorkKey(SHA, step, context));
    expect(before + SHA + after).toBe(['darkroom-work-1', SHA, 'resize', '1', '{"width":10}', 'png=1'].join('\n'));
  });
});

describe('stepsKey', () => {
  const thumb = [
    { name: 'thumbnail', params: {} },
    { name: 'convert', params: { format: 'webp', quality: 80 } },
  ];

  it('is the same for the same steps, whatever the order of their params’ keys', () => {
    const key = stepsKey(thumb, null, context);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(stepsKey([thumb[0], { name: 'convert', params: { quality: 80, format: 'webp' } }], null, context)).toBe(key);
  });

  it('differs when the steps, their order, their params, the encoder settings or the negotiated format differ', () => {
    const key = stepsKey(thumb, null, context);
    const others = [
      stepsKey([thumb[0]], null, context),
      stepsKey([thumb[1], thumb[0]], null, context),
      stepsKey([thumb[0], { name: 'convert', params: { format: 'webp', quality: 81 } }], null, context),
      stepsKey([thumb[0], { name: 'convert', params: { format: 'avif', quality: 80 } }], null, context),
      stepsKey(thumb, 'webp', context),
      stepsKey(thumb, null, { pngCompression: 6 }),
      stepsKey([{ name: 'grayscale', params: {} }, ...thumb], null, context),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
  });
});
