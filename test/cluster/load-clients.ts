import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { sleep } from '../utils/faults/processes';

/** How one request ended, from the client's side. */
export type Outcome = 'ok' | 'refused' | 'cut' | 'rejected';

/** The table's request columns, over every client. */
export interface RequestCounts {
  sent: number;
  /** Answered 2xx. */
  ok: number;
  /** Refused retryably: no connection, or 503 with nothing done (no ready node, a node starting or draining). */
  refused: number;
  /** 503 from the balancer because the node died after the request was sent: it may have taken effect. */
  cut: number;
  /** Any other answer (4xx, a 5xx other than 503): must be none. */
  rejected: number;
  /** What each rejected request was, for the failure message. */
  rejections: string[];
}

export interface Answer {
  status: number;
  body: any;
  outcome: Outcome;
}

/** The effects a client was told of (a 2xx): each must be there after the run. */
export interface Acknowledged {
  images: { id: number; sha256: string; token: string }[];
  jobs: { id: number; token: string }[];
}

const fixture = readFileSync(join(__dirname, '..', 'fixtures', 'astronaut.png'));
const SIDE = 96;
let pixels: Promise<Buffer> | undefined;

/** A photograph no other upload of the run has: the astronaut, with a few pixels set from `serial`. */
export async function distinctPhoto(serial: number): Promise<Buffer> {
  const raw = Buffer.from(await (pixels ??= sharp(fixture).resize(SIDE, SIDE).removeAlpha().raw().toBuffer()));
  raw.writeUInt32BE(serial >>> 0, 0);
  raw.writeUInt32BE(process.pid, 4);
  return sharp(raw, { raw: { width: SIDE, height: SIDE, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * One mobile client talking to the load balancer: every request counted, a retryable refusal
 * retried after a pause (a node restarting, or none ready for a moment), as an app would. Each
 * client has its own address in X-Forwarded-For, so that per-address limits count it alone.
 */
export class LoadClient {
  token = '';

  constructor(
    readonly base: string,
    readonly address: string,
    readonly counts: RequestCounts,
    readonly acknowledged: Acknowledged,
  ) {}

  async send(method: string, path: string, body?: unknown, contentType?: string): Promise<Answer> {
    const headers: Record<string, string> = { 'X-Forwarded-For': this.address };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let payload: FormData | Buffer | string | undefined;
    if (body instanceof FormData || Buffer.isBuffer(body)) payload = body as FormData | Buffer;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (contentType) headers['Content-Type'] = contentType;
    else if (body !== undefined && !(body instanceof FormData)) headers['Content-Type'] = 'application/json';
    this.counts.sent++;
    try {
      const response = await fetch(`${this.base}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(30_000) });
      const text = Buffer.from(await response.arrayBuffer());
      const parsed = response.headers.get('content-type')?.includes('json') ? JSON.parse(text.toString() || 'null') : text;
      if (response.status < 300) {
        this.counts.ok++;
        return { status: response.status, body: parsed, outcome: 'ok' };
      }
      if (response.status === 503) {
        const cut = response.headers.get('x-load-balancer') === 'upstream-cut';
        this.counts[cut ? 'cut' : 'refused']++;
        return { status: 503, body: parsed, outcome: cut ? 'cut' : 'refused' };
      }
      this.counts.rejected++;
      this.counts.rejections.push(`${method} ${path}: ${response.status} ${JSON.stringify(parsed)?.slice(0, 300)}`);
      return { status: response.status, body: parsed, outcome: 'rejected' };
    } catch (error) {
      this.counts.refused++;
      return { status: 0, body: null, outcome: 'refused' };
    }
  }

  /**
   * The request until it is answered other than with a retryable refusal (or `attempts` run
   * out). A cut request is sent again too: what it may have done is left as it is, unacknowledged.
   */
  async call(method: string, path: string, body?: unknown, contentType?: string, attempts = 60): Promise<Answer> {
    let answer: Answer;
    for (let attempt = 1; ; attempt++) {
      answer = await this.send(method, path, typeof body === 'function' ? body() : body, contentType);
      if (answer.outcome === 'ok' || answer.outcome === 'rejected' || attempt >= attempts) return answer;
      await sleep(250);
    }
  }

  async signUp(username: string): Promise<boolean> {
    const answer = await this.call('POST', '/api/users.json', { username, email: `${username}@example.com`, password: 'password123' });
    if (answer.outcome !== 'ok') return false;
    this.token = answer.body.authentication_token;
    return true;
  }

  /** Uploads `photo` in one multipart request; the image's id once acknowledged. */
  async uploadMultipart(photo: Buffer): Promise<number | null> {
    const form = () => {
      const data = new FormData();
      data.append('file', new Blob([photo], { type: 'image/png' }), 'photo.png');
      return data;
    };
    const answer = await this.call('POST', '/api/images.json', form);
    return this.acknowledgeImage(answer, photo);
  }

  /** The design document's path: a record, a presigned URL, the photo PUT straight to S3, then the upload reported. */
  async uploadPresigned(photo: Buffer): Promise<number | null> {
    const created = await this.call('POST', '/api/images.json', {});
    if (created.outcome !== 'ok') return null;
    const grant = await this.call('POST', `/api/images/${created.body.id}/upload_url`, { content_type: 'image/png' });
    if (grant.outcome !== 'ok') return null;
    const put = await fetch(grant.body.url, { method: 'PUT', body: photo, headers: { 'Content-Type': 'image/png' } });
    if (!put.ok) throw new Error(`S3 refused the presigned PUT: ${put.status} ${await put.text()}`);
    const recorded = await this.call('PUT', `/api/images/${created.body.id}.json`, { id: created.body.id, s3_key: grant.body.s3_key });
    return this.acknowledgeImage(recorded, photo);
  }

  private acknowledgeImage(answer: Answer, photo: Buffer): number | null {
    if (answer.outcome !== 'ok') return null;
    this.acknowledged.images.push({ id: answer.body.id, sha256: sha256(photo), token: this.token });
    return answer.body.id;
  }

  async createJob(imageId: number, steps: string[]): Promise<number | null> {
    const answer = await this.call('POST', '/api/jobs.json', { image_id: imageId, job_type: steps });
    if (answer.outcome !== 'ok') return null;
    this.acknowledged.jobs.push({ id: answer.body.id, token: this.token });
    return answer.body.id;
  }
}

export function emptyCounts(): RequestCounts {
  return { sent: 0, ok: 0, refused: 0, cut: 0, rejected: 0, rejections: [] };
}
