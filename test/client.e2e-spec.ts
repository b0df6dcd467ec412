import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createHash } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { DarkroomClient, type JobEvent } from '../clients/typescript/src';
import { availableBackends } from './utils/faults/cluster';
import { uniquePhoto } from './utils/images';
import { createSuiteDatabase } from './utils/suite-database';
import { createTestApp, startTestWorker, testEnv } from './utils/test-app';
import { unique } from './utils/factories';

/**
 * The typed client (clients/typescript) driving a mobile app's whole flow against a listening
 * server: sign-up, a resumable upload paused in the middle and resumed, a job whose first answer
 * is lost and which the client retries under the same Idempotency-Key, its events, delta sync,
 * the download.
 */
describe.each(availableBackends())('the typed TypeScript client, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let baseUrl: string;

  beforeAll(async () => {
    const env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`client_${backend.name}`)).url, REDIS_URL: backend.redisUrl });
    app = await createTestApp(env);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    worker = await startTestWorker(env);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
  });

  it('signs up, uploads resumably, makes one job through a lost answer, follows it, syncs and downloads', async () => {
    // The network loses the answer to the first job request, after the server has made the job.
    const jobRequests: { key: string | null }[] = [];
    const lossyFetch: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const response = await fetch(request.clone());
      if (request.method === 'POST' && new URL(request.url).pathname === '/api/jobs') {
        jobRequests.push({ key: request.headers.get('Idempotency-Key') });
        if (jobRequests.length === 1) throw new TypeError('fetch failed: the connection dropped before the answer arrived');
      }
      return response;
    };
    const client = new DarkroomClient({ baseUrl, fetch: lossyFetch, firstRetryDelayMs: 10 });

    const username = unique('phone');
    const signedUp = await client.api.POST('/api/users', {
      body: { username, email: `${username}@example.com`, password: 'correct horse battery' },
    });
    expect(signedUp.response.status).toBe(201);
    client.setToken(signedUp.data!.authentication_token);

    const photo = await uniquePhoto('astronaut.jpg', 'png');
    const upload = client.uploadResumable(photo, { filename: 'astronaut.png', chunkSize: Math.ceil(photo.length / 10) });
    const paused = new Promise<number>((resolve) => {
      upload.tus.options.onChunkComplete = (_chunk, accepted, total) => {
        if (accepted >= total * 0.4 && accepted < total) {
          void upload.tus.abort().then(() => resolve(accepted));
          upload.tus.options.onChunkComplete = null;
        }
      };
    });
    const acceptedBeforePause = await paused;
    const offset = await fetch(`${baseUrl}${new URL(upload.tus.url!).pathname}`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${signedUp.data!.authentication_token}`, 'Tus-Resumable': '1.0.0' },
    });
    expect(Number(offset.headers.get('upload-offset'))).toBe(acceptedBeforePause);
    expect(acceptedBeforePause).toBeLessThan(photo.length);
    upload.tus.start();
    const { image } = await upload.done;
    expect(image).toMatchObject({ bytes: photo.length, sha256: createHash('sha256').update(photo).digest('hex') });

    const created = await client.api.POST('/api/jobs', { body: { image_id: image.id, job_type: ['grayscale', 'histogram'] } });
    expect(created.response.status).toBe(201);
    expect(created.response.headers.get('Idempotent-Replayed')).toBe('true');
    expect(jobRequests).toHaveLength(2);
    expect(jobRequests[1].key).toBe(jobRequests[0].key);
    const job = created.data!;
    const listed = await client.api.GET('/api/jobs', {});
    expect(listed.data!.map((each) => each.id)).toEqual([job.id]);

    const events: JobEvent[] = [];
    for await (const event of client.events(job.id)) events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'status', data: { status: 'completed' } });

    // Sync answers the changes of transactions that have all ended, so that none is ever skipped:
    // one still open elsewhere (a worker's) holds the newest back for a moment. A client asks again.
    const mirror = { images: new Set<number>(), jobs: new Map<number, string>(), deletedJobs: new Set<number>() };
    const syncUntil = async (since: string | undefined, until: () => boolean): Promise<string> => {
      const deadline = Date.now() + 30_000;
      for (let cursor = since; ;) {
        const { data } = await client.api.GET('/api/sync', { params: { query: { limit: 1000, ...(cursor ? { since: cursor } : {}) } } });
        for (const each of data!.images) mirror.images.add(each.id);
        for (const each of data!.jobs) mirror.jobs.set(each.id, each.status);
        for (const id of data!.deleted.jobs) mirror.deletedJobs.add(id);
        cursor = data!.cursor;
        if (!data!.has_more && until()) return cursor;
        if (Date.now() > deadline) throw new Error(`Sync did not show what was expected: ${JSON.stringify([...mirror.jobs])}`);
        if (!data!.has_more) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const cursor = await syncUntil(undefined, () => mirror.jobs.get(job.id) === 'completed');
    const { outputs } = (await client.api.GET('/api/jobs/{id}', { params: { path: { id: job.id } } })).data!;
    expect([...mirror.images].sort((a, b) => a - b)).toEqual([image.id, ...outputs]);

    const grey = await client.api.GET('/api/images/{id}', { params: { path: { id: outputs[0] } } });
    const bytes = await client.download(outputs[0]);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(grey.data!.sha256);

    await client.api.DELETE('/api/jobs/{id}', { params: { path: { id: job.id } } });
    await syncUntil(cursor, () => mirror.deletedJobs.has(job.id));
    expect([...mirror.deletedJobs]).toEqual([job.id]);
  }, 60_000);
});
