import createClient, { type Client } from 'openapi-fetch';
import { idempotentFetch } from './idempotent-fetch';
import { type JobEvent, jobEvents } from './job-events';
import { type ResumableUpload, type ResumableUploadOptions, startResumableUpload } from './resumable-upload';
import type { components, paths } from './schema';

export type { components, paths } from './schema';
export type { JobEvent } from './job-events';
export type { ResumableUpload, ResumableUploadOptions, UploadOutcome } from './resumable-upload';
export { idempotentFetch } from './idempotent-fetch';

export type Image = components['schemas']['ImageResponseDto'];
export type Job = components['schemas']['JobResponseDto'];

export interface DarkroomClientOptions {
  /** The server's origin, as `https://darkroom.example`: the API is under its /api. */
  baseUrl: string;
  /** The bearer token (sign-up's or sign-in's `authentication_token`); setToken changes it. */
  token?: string;
  /** Tries of a POST or PATCH whose answer was lost, with the same Idempotency-Key (3). */
  attempts?: number;
  /** The wait before the second try, doubling after each (250 ms). */
  firstRetryDelayMs?: number;
  /** The fetch to send requests with (the global one). */
  fetch?: typeof fetch;
}

/** A request the server refused, with its error body (`{error, details}`). */
export class DarkroomError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; details?: { field: string; message: string }[] } | undefined,
  ) {
    super(body?.error ?? `Darkroom answered ${status}`);
  }
}

/**
 * Darkroom's typed client: `api` is generated from openapi.json (every route, its parameters,
 * bodies and answers typed); the methods beside it cover what generation does not: multipart and
 * resumable uploads, a job's event stream, downloads. Every POST and PATCH carries an
 * Idempotency-Key and is retried with it when its answer is lost.
 */
export class DarkroomClient {
  readonly api: Client<paths>;
  private token: string | undefined;
  private readonly baseUrl: string;
  private readonly send: typeof fetch;

  constructor(options: DarkroomClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.send = idempotentFetch(options.fetch ?? globalThis.fetch, {
      attempts: options.attempts ?? 3,
      firstDelayMs: options.firstRetryDelayMs ?? 250,
    });
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: (request) => this.send(request) });
    this.api.use({
      onRequest: ({ request }) => {
        if (this.token && !request.headers.has('Authorization')) request.headers.set('Authorization', `Bearer ${this.token}`);
        return request;
      },
    });
  }

  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** Creates an image and uploads its original in one multipart request (POST /api/images). */
  async uploadImage(file: Blob, options: { filename: string; imageType?: string; presets?: string[] }): Promise<Image> {
    const form = new FormData();
    if (options.imageType !== undefined) form.set('image_type', options.imageType);
    if (options.presets !== undefined) form.set('presets', options.presets.join(','));
    form.set('file', file, options.filename);
    return this.json<Image>(await this.send(`${this.baseUrl}/api/images`, { method: 'POST', headers: this.authorization(), body: form }));
  }

  /**
   * Uploads an original over tus 1.0 (/api/uploads), resumable after a dropped connection: the
   * image (and its job, if one is asked for) is made once its last byte is stored and checked.
   */
  uploadResumable(file: Blob | Buffer, options: ResumableUploadOptions): ResumableUpload<Image, Job> {
    return startResumableUpload<Image, Job>(file, `${this.baseUrl}/api/uploads`, () => this.authorization(), options);
  }

  /** The bytes of an image's file. */
  async download(imageId: number): Promise<Uint8Array> {
    const response = await this.send(`${this.baseUrl}/api/images/${imageId}/file`, { headers: this.authorization() });
    if (!response.ok) throw new DarkroomError(response.status, (await response.json().catch(() => undefined)) as DarkroomError['body']);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** A job's events until it is completed, failed or cancelled; reconnects as needed. */
  events(jobId: number, signal?: AbortSignal): AsyncGenerator<JobEvent> {
    return jobEvents((lastEventId) =>
      this.send(`${this.baseUrl}/api/jobs/${jobId}/events`, {
        headers: { ...this.authorization(), Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
        signal,
      }),
    );
  }

  private authorization(): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  private async json<T>(response: Response): Promise<T> {
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok) throw new DarkroomError(response.status, body as DarkroomError['body']);
    return body as T;
  }
}
