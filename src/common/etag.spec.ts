import { strongEtag, weakEtag } from './etag';

describe('weakEtag', () => {
  it("gives Express's default ETag: byte length in hex and the body's SHA-1", () => {
    // Values Express 5 answers for these bodies with its default `etag` setting.
    expect(weakEtag(Buffer.from(''))).toBe('W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"');
    expect(weakEtag(Buffer.from('{"error":"No image with id 5","details":[]}'))).toBe('W/"2b-oF+aRjs+SDJZNj/ocLQgTNkKeiE"');
  });

  it('counts bytes, not characters, of a string body', () => {
    expect(weakEtag('é', 'utf8')).toBe(weakEtag(Buffer.from('é', 'utf8')));
    expect(weakEtag('é', 'utf8')).toMatch(/^W\/"2-/);
  });
});

describe('strongEtag', () => {
  it("is the weak tag's value without W/, and tells apart bodies that differ in one byte", () => {
    const body = '{"id":7,"status":"original stored"}';
    expect(`W/${strongEtag(body, 'utf8')}`).toBe(weakEtag(body, 'utf8'));
    expect(strongEtag(body, 'utf8')).toMatch(/^"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
    expect(strongEtag(body.replace('7', '8'), 'utf8')).not.toBe(strongEtag(body, 'utf8'));
  });
});
