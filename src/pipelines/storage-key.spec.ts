import { assertValidStorageKey, isValidStorageKey, newStorageKey } from './storage-key';

describe('newStorageKey', () => {
  afterEach(() => jest.useRealTimers());

  it('files keys under the kind and the UTC date', () => {
    // Late evening in New York is already the next day in UTC.
    jest.useFakeTimers({ now: new Date('2026-11-23T23:30:00-05:00') });
    expect(newStorageKey('originals', 'jpg')).toMatch(
      /^originals\/2026\/11\/24\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jpg$/,
    );
  });

  it('pads months and days', () => {
    jest.useFakeTimers({ now: new Date('2027-03-05T12:00:00Z') });
    expect(newStorageKey('outputs', 'png')).toMatch(/^outputs\/2027\/03\/05\/[0-9a-f-]{36}\.png$/);
  });

  it('gives a new, valid key every time', () => {
    const keys = Array.from({ length: 100 }, () => newStorageKey('uploads', 'zip'));
    expect(new Set(keys).size).toBe(100);
    expect(keys.every(isValidStorageKey)).toBe(true);
  });

  it('lowercases the extension', () => {
    expect(newStorageKey('originals', 'JPEG')).toMatch(/\.jpeg$/);
  });

  it.each(['', '.jpg', 'jp g', '../x', 'a/b', 'x'.repeat(17)])('refuses the extension %j', (extension) => {
    expect(() => newStorageKey('originals', extension)).toThrow(/extension/);
  });
});

describe('isValidStorageKey', () => {
  it.each([
    'originals/2026/11/23/0b0c3a9e-4a51-4d8e-9f61-6f3e2a1b7c55.jpg',
    'a',
    'A-Z_a-z.0-9',
    '.hidden/file..name',
    `a/${'x'.repeat(1022)}`,
  ])('accepts %j', (key) => {
    expect(isValidStorageKey(key)).toBe(true);
  });

  it.each([
    '',
    '/originals/a.jpg',
    'originals/a.jpg/',
    'originals//a.jpg',
    '../a.jpg',
    'originals/../../etc/passwd',
    'originals/./a.jpg',
    '..',
    'originals\\a.jpg',
    'with space.jpg',
    'ünïcode.jpg',
    'a%2Fb',
    'a\0b',
    `a/${'x'.repeat(1023)}`,
  ])('refuses %j', (key) => {
    expect(isValidStorageKey(key)).toBe(false);
  });
});

describe('assertValidStorageKey', () => {
  it('throws naming the key', () => {
    expect(() => assertValidStorageKey('../a')).toThrow('Invalid storage key "../a"');
    expect(() => assertValidStorageKey('a/b.jpg')).not.toThrow();
  });
});
