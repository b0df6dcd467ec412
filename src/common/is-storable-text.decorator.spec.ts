import { isStorableText } from './is-storable-text.decorator';

describe('isStorableText', () => {
  it.each([['plain'], [''], ['emoji 😀 and accents é'], [12], [null]])('accepts %j', (value) => {
    expect(isStorableText(value)).toBe(true);
  });

  it.each([['a\u0000b'], ['\u0000'], ['lone high \ud800'], ['lone low \udc00 here'], ['\udc00\ud800']])('refuses %j', (value) => {
    expect(isStorableText(value)).toBe(false);
  });
});
