import { InvalidInputError } from '../pipelines/invalid-input.error';
import { canonicalJson, idempotencyKeyOf, isReplayable, requestFingerprint } from './idempotency-key';

describe('idempotencyKeyOf', () => {
  it('takes 1 to 255 printable ASCII characters as they are', () => {
    expect(idempotencyKeyOf('6f1c0a52-0b0e-4c8e-9a54-3c9b1d0e2f77')).toBe('6f1c0a52-0b0e-4c8e-9a54-3c9b1d0e2f77');
    expect(idempotencyKeyOf('a')).toBe('a');
    expect(idempotencyKeyOf('order 7: "retry" ~')).toBe('order 7: "retry" ~');
    expect(idempotencyKeyOf('k'.repeat(255))).toHaveLength(255);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['a control character', 'key\tone'],
    ['non-ASCII', 'clé'],
  ])('refuses a key that is %s, naming the header', (_, key) => {
    expect(() => idempotencyKeyOf(key)).toThrow(InvalidInputError);
    try {
      idempotencyKeyOf(key);
    } catch (error) {
      expect((error as InvalidInputError).details).toEqual([
        { field: 'Idempotency-Key', message: 'Idempotency-Key must be 1 to 255 printable ASCII characters, such as a UUID' },
      ]);
    }
  });

  it('refuses the header sent twice', () => {
    expect(() => idempotencyKeyOf(['a', 'b'])).toThrow('send one Idempotency-Key header, not several');
  });
});

describe('requestFingerprint', () => {
  const request = { method: 'POST', path: '/api/jobs', query: {}, body: { image_id: 7, job_type: ['process', 'grayscale'] } };

  it('is the same for the same request, whatever the order of its keys', () => {
    const reordered = { ...request, body: { job_type: ['process', 'grayscale'], image_id: 7 } };
    expect(requestFingerprint(reordered).equals(requestFingerprint(request))).toBe(true);
    expect(requestFingerprint(request)).toHaveLength(32);
  });

  it.each([
    ['method', { method: 'PATCH' }],
    ['path', { path: '/api/jobs/batch' }],
    ['query', { query: { force: 'true' } }],
    ['body', { body: { image_id: 8, job_type: ['process', 'grayscale'] } }],
    ['order of an array', { body: { image_id: 7, job_type: ['grayscale', 'process'] } }],
    ['type of a value', { body: { image_id: '7', job_type: ['process', 'grayscale'] } }],
  ])('changes with the %s', (_, change) => {
    expect(requestFingerprint({ ...request, ...change }).equals(requestFingerprint(request))).toBe(false);
  });

  it('treats no body and a null body alike', () => {
    expect(requestFingerprint({ ...request, body: undefined }).equals(requestFingerprint({ ...request, body: null }))).toBe(true);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members as JSON does', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: undefined }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"f":2}]},"b":1}');
    expect(canonicalJson([undefined, 'x'])).toBe('[null,"x"]');
  });
});

describe('isReplayable', () => {
  it.each([200, 201, 204, 400, 403, 404, 413, 415, 422])('keeps a %i', (status) => expect(isReplayable(status)).toBe(true));
  it.each([409, 429, 500, 502, 503])('releases the key on a %i, which a retry may turn out otherwise', (status) =>
    expect(isReplayable(status)).toBe(false),
  );
});
