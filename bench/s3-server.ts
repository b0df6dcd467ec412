import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface S3rverOptions {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Koa's middleware, composed at run(): what is put first answers before s3rver's routes. */
  middleware: KoaMiddleware[];
}

/** The little of a Koa context the multipart listings use. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

// s3rver ships no type declarations, so it is required with the little of its API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
const S3rver: new (options: S3rverOptions) => S3rverInstance = require('s3rver');

/** The credentials s3rver checks signatures against. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/*
 * Here rather than in test/utils: the tests start it, and so does bench:cluster, which the build
 * compiles without test/.
 */

/** A real s3rver on a free port of 127.0.0.1, with `bucket` created and its own data directory. */
export async function startS3Server(bucket: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  server.middleware.unshift(multipartListings(directory));
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async stop() {
      try {
        await server.close();
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}

/**
 * What s3rver 3 lacks of S3's multipart uploads and @tus/s3-store uses (resumable uploads on S3):
 * ListParts (`GET /bucket/key?uploadId=`), AbortMultipartUpload (`DELETE /bucket/key?uploadId=`)
 * and ListMultipartUploads (`GET /bucket?uploads`), read from where s3rver keeps an upload's parts
 * (`<bucket>/._S3rver_uploads/<upload id>/`: its key, and each part with its MD5). Requests are
 * not authenticated, as nothing else would be but these test stores.
 */
function multipartListings(directory: string): KoaMiddleware {
  const uploadsDir = (bucket: string) => join(directory, bucket, '._S3rver_uploads');
  const xml = (ctx: KoaContext, status: number, body: string) => {
    ctx.status = status;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  };
  const noSuchUpload = (ctx: KoaContext) =>
    xml(ctx, 404, '<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>');
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return async (ctx, next) => {
    const [bucket, ...keyParts] = ctx.path
      .split('/')
      .filter((part) => part !== '')
      .map(decodeURIComponent);
    const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
    if (ctx.method === 'GET' && keyParts.length === 0 && 'uploads' in ctx.query) {
      const ids = await readdir(uploadsDir(bucket)).catch(() => [] as string[]);
      const uploads = await Promise.all(
        ids.map(async (id) => {
          const keyFile = join(uploadsDir(bucket), id, 'key');
          const [key, info] = await Promise.all([readFile(keyFile, 'utf8'), stat(keyFile)]);
          return `<Upload><Key>${escape(key)}</Key><UploadId>${id}</UploadId><Initiated>${info.mtime.toISOString()}</Initiated></Upload>`;
        }),
      );
      return xml(
        ctx,
        200,
        `<ListMultipartUploadsResult><Bucket>${escape(bucket)}</Bucket><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`,
      );
    }
    if (uploadId === undefined || keyParts.length === 0 || (ctx.method !== 'GET' && ctx.method !== 'DELETE')) return next();
    const uploadDir = join(uploadsDir(bucket), uploadId);
    const names = await readdir(uploadDir).catch(() => null);
    if (names === null) return noSuchUpload(ctx);
    if (ctx.method === 'DELETE') {
      await rm(uploadDir, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    const numbers = names
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
    const parts = await Promise.all(
      numbers.map(async (number) => {
        const [md5, info] = await Promise.all([readFile(join(uploadDir, `${number}.md5`), 'utf8'), stat(join(uploadDir, String(number)))]);
        return `<Part><PartNumber>${number}</PartNumber><ETag>"${md5}"</ETag><Size>${info.size}</Size></Part>`;
      }),
    );
    xml(
      ctx,
      200,
      `<ListPartsResult><Bucket>${escape(bucket)}</Bucket><Key>${escape(keyParts.join('/'))}</Key><UploadId>${uploadId}</UploadId><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`,
    );
  };
}

/** nest build compiles TypeScript alone: a bench run from dist/bench starts the source's script. */
const processScript = () =>
  [join(__dirname, 's3-server-process.js'), join(__dirname, '..', '..', 'bench', 's3-server-process.js')].find((path) => existsSync(path))!;

/**
 * startS3Server's store, in a child process (s3-server-process.js): for a test whose own process is busy enough
 * to slow the store down, and with it every node's readiness check.
 */
export async function startS3ServerProcess(bucket: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const child = spawn(process.execPath, [processScript(), directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        if (buffered.includes('\n')) resolve(JSON.parse(buffered.split('\n')[0]).port);
      });
      child.once('exit', (code) => reject(new Error(`s3rver's process exited (${code}) before listening`)));
    });
    return {
      endpoint: `http://127.0.0.1:${port}`,
      async stop() {
        child.kill('SIGTERM');
        await exited;
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** What went through a counting proxy: requests by HTTP method, and the bodies' bytes each way. */
export interface S3Traffic {
  requests: Map<string, number>;
  bytesUp: number;
  bytesDown: number;
}

const noTraffic = (): S3Traffic => ({ requests: new Map(), bytesUp: 0, bytesDown: 0 });

/**
 * An HTTP proxy on a free port of 127.0.0.1 in front of the S3 store at `endpoint`, counting what
 * passes. The product's S3_ENDPOINT points at it; requests go on unchanged, Host header included,
 * so that their signatures still hold. `take()` answers the traffic since the previous take.
 */
export async function startCountingProxy(endpoint: string): Promise<{ endpoint: string; take(): S3Traffic; stop(): Promise<void> }> {
  const target = new URL(endpoint);
  const agent = new Agent({ keepAlive: true });
  let traffic = noTraffic();
  const server = createServer((incoming, outgoing) => {
    const counted = traffic;
    counted.requests.set(incoming.method!, (counted.requests.get(incoming.method!) ?? 0) + 1);
    const upstream = request(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers, agent },
      (response) => {
        outgoing.writeHead(response.statusCode!, response.headers);
        response.on('data', (chunk: Buffer) => (counted.bytesDown += chunk.length));
        response.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.on('data', (chunk: Buffer) => (counted.bytesUp += chunk.length));
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    take() {
      const taken = traffic;
      traffic = noTraffic();
      return taken;
    },
    async stop() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
