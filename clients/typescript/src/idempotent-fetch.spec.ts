import { idempotentFetch } from './idempotent-fetch';

/** A base fetch that answers from a script, one entry a call, recording what it was sent. */
function scripted(script: (Response | Error)[]) {
  const sent: { method: string; key: string | null; body: string }[] = [];
  const base = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    sent.push({ method: request.method, key: request.headers.get('Idempotency-Key'), body: await request.text() });
    const next = script.shift();
    if (!next) throw new Error('the script ran out');
    if (next instanceof Error) throw next;
    return next;
  };
  return { base: base as typeof fetch, sent };
}

const options = { attempts: 3, firstDelayMs: 1 };

describe('idempotentFetch', () => {
  it('keys a POST and sends it again with the same key and body when its answer is lost', async () => {
    const { base, sent } = scripted([new TypeError('socket hang up'), new Response('{"id":7}', { status: 201 })]);
    const response = await idempotentFetch(base, options)('http://darkroom.test/api/jobs', { method: 'POST', body: '{"image_id":1}' });
    expect(response.status).toBe(201);
    expect(sent).toHaveLength(2);
    expect(sent[0].key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[1]).toEqual(sent[0]);
  });

  it('keeps a key the caller set, and retries 502, 503, 504 and an in-flight 409 (with Retry-After)', async () => {
    const { base, sent } = scripted([
      new Response('', { status: 503 }),
      new Response('{"error":"in flight"}', { status: 409, headers: { 'Retry-After': '1' } }),
      new Response('{}', { status: 200 }),
    ]);
    const response = await idempotentFetch(base, options)('http://darkroom.test/api/jobs/1', {
      method: 'PATCH',
      headers: { 'Idempotency-Key': 'mine' },
      body: 'x',
    });
    expect(response.status).toBe(200);
    expect(sent.map((request) => request.key)).toEqual(['mine', 'mine', 'mine']);
  });

  it('answers a 409 without Retry-After, and any 4xx, at once', async () => {
    for (const status of [409, 422, 404]) {
      const { base, sent } = scripted([new Response('{"error":"no"}', { status })]);
      expect((await idempotentFetch(base, options)('http://darkroom.test/api/jobs', { method: 'POST', body: '{}' })).status).toBe(status);
      expect(sent).toHaveLength(1);
    }
  });

  it('gives up after the last attempt with its answer or its error', async () => {
    const failing = scripted([new Response('', { status: 502 }), new Response('', { status: 502 }), new Response('', { status: 502 })]);
    expect((await idempotentFetch(failing.base, options)('http://darkroom.test/api/jobs', { method: 'POST' })).status).toBe(502);
    expect(failing.sent).toHaveLength(3);
    const lost = scripted([new TypeError('a'), new TypeError('b'), new TypeError('c')]);
    await expect(idempotentFetch(lost.base, options)('http://darkroom.test/api/jobs', { method: 'POST' })).rejects.toThrow('c');
  });

  it('sends other methods once, unkeyed', async () => {
    const { base, sent } = scripted([new Response('', { status: 503 })]);
    expect((await idempotentFetch(base, options)('http://darkroom.test/api/jobs')).status).toBe(503);
    expect(sent).toEqual([{ method: 'GET', key: null, body: '' }]);
  });
});
