import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { get } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createJob, createStoredImage, createUser, TestUser } from './utils/factories';
import { bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

/** This process's file descriptors open on files under `dir` (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return [];
    }
  });
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check() && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const onLinux = existsSync('/proc/self/fd') ? it : it.skip;

/**
 * A download the client abandons closes every stored file it opened, at once: otherwise Node
 * closes them on garbage collection, with "Closing file descriptor N on garbage collection" and
 * a DEP0137 warning (and, until then, holds a descriptor per file).
 */
describe('an abandoned download', () => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let env: TestEnv;
  let user: TestUser;
  let base: string;

  beforeAll(async () => {
    env = testEnv();
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    user = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
  });

  /** GETs `path`, and hangs up once the first bytes of the body arrive. */
  const abandon = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const request = get(`${base}${path}`, { headers: bearer(user.token) }, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve(response.statusCode!);
        });
      });
      request.once('error', (error) => (request.destroyed ? undefined : reject(error)));
    });

  onLinux(
    'closes the files of a zip it had not reached yet',
    async () => {
      const image = await createStoredImage(app, user);
      // Outputs of several megabytes each: the zip is far from its last file when the client leaves.
      const job = await createJob(app, user, {
        image_id: image.id,
        job_type: ['resize', 'grayscale', 'flip'],
        params: { resize: { width: 2000, height: 2000 } },
      });
      expect(await waitForJob(app, user.token, job.id, 120_000)).toMatchObject({ status: 'completed' });
      const files = join(env.DATA_DIR!, 'files');

      expect(await abandon(`/api/jobs/${job.id}/download`)).toBe(200);
      await eventually(() => openFilesUnder(files).length === 0, 5000);
      expect(openFilesUnder(files)).toEqual([]);
    },
    180_000,
  );

  onLinux('closes the file of a single download', async () => {
    const image = await createStoredImage(app, user);
    expect(await abandon(`/api/images/${image.id}/file`)).toBe(200);
    const file = join(env.DATA_DIR!, 'files', image.s3_key);
    await eventually(() => openFilesUnder(file).length === 0, 5000);
    expect(openFilesUnder(file)).toEqual([]);
  });
});
