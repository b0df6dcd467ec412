import { ConflictException, GoneException, Injectable, Logger, NotFoundException, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Server, type ServerOptions } from '@tus/server';
import { ERRORS, type Upload } from '@tus/utils';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { describeError } from '../common/api-exception.filter';
import { invalidField } from '../common/api-errors';
import { AppConfig } from '../config/app-config';
import type { AuthenticatedRequest } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ImageResponseDto } from '../images/dto/image-response.dto';
import { ImageFilesService } from '../images/image-files.service';
import type { Image } from '../images/image.entity';
import { ImagesService } from '../images/images.service';
import type { Job } from '../job-runs/job.entity';
import { JobResponseDto } from '../jobs/dto/job-response.dto';
import { JobsService } from '../jobs/jobs.service';
import { PresetsService } from '../presets/presets.service';
import { readUploadRequest } from './upload-request';
import { ResumableUpload, UPLOAD_STATE } from './upload.entity';
import { UploadLocker } from './upload-locker';
import { UploadRepository } from './upload.repository';
import { CompletedUploadsStore, createUploadBytes, UploadBytes } from './upload-store';

/** Where tus is served; the upload URLs are `${UPLOADS_PATH}/<id>`. */
export const UPLOADS_PATH = '/api/uploads';

/** A completion silent this long was abandoned (its process died): another request takes it over. */
const ABANDONED_COMPLETION_SECONDS = 60;
/** How often a completion says it is alive, well within ABANDONED_COMPLETION_SECONDS. */
const COMPLETION_HEARTBEAT_MS = 15_000;
/** How long a retried final PATCH waits for the request completing the upload before answering 409. */
const COMPLETION_WAIT_MS = 60_000;
const COMPLETION_POLL_MS = 200;
/** Expired uploads deleted per pass; a pass runs every minute. */
const EXPIRED_PER_PASS = 500;

type TusRequest = Parameters<NonNullable<ServerOptions['onUploadCreate']>>[0];

/** What a completed upload made. */
export interface UploadOutcome {
  image: Image;
  job: Job | null;
}

/**
 * Resumable uploads: the tus 1.0 protocol (@tus/server) at /api/uploads, its bytes in a tus store
 * (upload-store.ts), the rules Darkroom's own. At creation, the metadata is checked as a
 * multipart upload's form is, Upload-Length against MAX_UPLOAD_BYTES and the owner's storage
 * quota, and the upload recorded (owner, expiry) in PostgreSQL. At the last byte, the bytes go
 * through ImageFilesService as any upload's do (format, pixel limits, structure, SHA-256, quota
 * again), into the storage's own key, then the tus copy is deleted; the image, and the job the
 * metadata asked for, are made once whichever node or retry reaches the end (the `uploads` row's
 * claim). Nothing is kept in a process: any API node serves any request of any upload.
 */
@Injectable()
export class UploadsService implements OnApplicationShutdown {
  private readonly logger = new Logger(UploadsService.name);
  private readonly bytes: UploadBytes;
  private readonly lockPool: Pool;
  private readonly server: Server;

  constructor(
    private readonly rows: UploadRepository,
    private readonly images: ImagesService,
    private readonly files: ImageFilesService,
    private readonly jobs: JobsService,
    private readonly presets: PresetsService,
    private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.bytes = createUploadBytes(config);
    this.lockPool = new Pool({ connectionString: (dataSource.options as { url?: string }).url, max: config.DATABASE_POOL_SIZE });
    this.lockPool.on('error', (error) => this.logger.warn(`An idle upload-lock connection failed: ${error.message}`));
    this.server = new ApiErrorsServer({
      path: UPLOADS_PATH,
      datastore: new CompletedUploadsStore(this.bytes.store, (id) => this.rows.completedSize(id)),
      locker: new UploadLocker(this.lockPool),
      maxSize: config.MAX_UPLOAD_BYTES,
      // A node names the upload by its path: behind a load balancer, the client's own host stays right.
      relativeLocation: true,
      allowedOrigins: config.CORS_ORIGINS,
      onUploadCreate: async (request, upload) => {
        await this.create(principalOf(request), upload);
        return {};
      },
      onUploadFinish: async (request, upload) => completionAnswer(await this.complete(principalOf(request), upload.id)),
      onResponseError: (_request, error) => this.errorAnswer(error),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lockPool.end();
  }

  /** Answers a tus request (the caller has authenticated it, and checked its access to the upload it names). */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    return this.server.handle(request, response);
  }

  /** Refuses (404) upload `id` unless the caller may see it: someone else's is as absent as a missing one. */
  async assertAccess(principal: Principal, id: string): Promise<void> {
    const upload = await this.rows.find(id);
    if (!upload || !principal.owns(upload.userId)) throw new NotFoundException(`No upload with id ${id}`);
  }

  /**
   * Deletes the uploads past UPLOAD_EXPIRY: their bytes first (on S3, the multipart upload is
   * aborted), then their rows; then whatever the tus store itself finds expired. Answers how many
   * uploads went. An upload whose bytes could not be deleted keeps its row for the next pass.
   */
  async deleteExpired(): Promise<number> {
    let deleted = 0;
    for (const upload of await this.rows.expired(EXPIRED_PER_PASS, ABANDONED_COMPLETION_SECONDS)) {
      try {
        if (upload.state !== UPLOAD_STATE.completed) await this.bytes.store.remove(upload.id).catch(unlessNotFound);
        await this.rows.delete(upload.id);
        deleted++;
      } catch (error) {
        this.logger.warn(`Could not delete expired upload ${upload.id}: ${(error as Error).message}`);
      }
    }
    await this.bytes.store.deleteExpired();
    return deleted;
  }

  /** tus's onUploadCreate: the checks of a new upload, and its row. */
  private async create(principal: Principal, upload: Upload): Promise<void> {
    if (upload.size === undefined) {
      throw invalidField('Upload-Length', 'Upload-Length is required: the size is checked against the limit and your quota up front');
    }
    const request = await readUploadRequest(upload.metadata);
    const ownerId = principal.ownerFor(request.image.user_id);
    if (request.image.image_type !== undefined) await this.images.assertImageTypeExists(request.image.image_type, 'image_type');
    await this.presets.assertExist(request.image.presets ?? [], 'presets');
    await this.images.precheckStorage(ownerId, upload.size);
    await this.rows.insert({
      id: upload.id,
      userId: ownerId,
      metadata: request,
      size: upload.size,
      expiresInSeconds: this.config.UPLOAD_EXPIRY,
    });
  }

  /**
   * tus's onUploadFinish, which runs again for a retried final PATCH, or for two at once on two
   * nodes: the request that claims the upload makes the image; the others wait for it, then
   * answer what it made. A completion that fails (a file refused) gives the claim back, so that a
   * retry is checked again and refused alike.
   */
  async complete(principal: Principal, id: string): Promise<UploadOutcome> {
    const deadline = Date.now() + COMPLETION_WAIT_MS;
    for (;;) {
      const claimed = await this.rows.claim(id, ABANDONED_COMPLETION_SECONDS);
      if (claimed) return this.makeImage(principal, claimed);
      const upload = await this.rows.find(id);
      if (!upload) throw new NotFoundException(`No upload with id ${id}`);
      if (upload.state === UPLOAD_STATE.completed) return this.outcomeOf(principal, upload);
      if (Date.now() > deadline) throw new ConflictException(`Upload ${id} is being completed by another request: send the PATCH again`);
      await sleep(COMPLETION_POLL_MS);
    }
  }

  private async makeImage(principal: Principal, upload: ResumableUpload): Promise<UploadOutcome> {
    const { image: fields, job: asked } = upload.metadata;
    let image: Image;
    const heartbeat = setInterval(() => {
      this.rows.touchClaim(upload.id).catch((error: Error) => this.logger.warn(`Upload ${upload.id}'s claim: ${error.message}`));
    }, COMPLETION_HEARTBEAT_MS);
    try {
      const body = await this.bytes.read(upload.id);
      try {
        image = await this.files.createFromStream(principal, fields, body, upload.size, async (manager, made) => {
          if (!(await this.rows.markCompleted(manager, upload.id, made.id))) {
            throw new ConflictException(`Upload ${upload.id} was completed by another request: send the PATCH again`);
          }
        });
      } finally {
        body.destroy();
      }
    } catch (error) {
      await this.rows.release(upload.id);
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
    // The image has its own copy now: the tus one goes (a failure leaves it to the expiry pass).
    await this.bytes.store
      .remove(upload.id)
      .catch((error: Error) => this.logger.warn(`Could not delete the bytes of completed upload ${upload.id}: ${error.message}`));
    // After the image's commit, as POST /api/jobs would be: a job refused (the quota of jobs in
    // progress) leaves the image made, and the answer says why; a retry answers the image alone.
    const job = asked && (await this.jobs.create(principal, { image_id: image.id, user_id: image.userId, ...asked }));
    if (job) await this.rows.recordJob(upload.id, job.id);
    return { image, job };
  }

  private async outcomeOf(principal: Principal, upload: ResumableUpload): Promise<UploadOutcome> {
    if (upload.imageId === null) throw new GoneException(`The image upload ${upload.id} made has been deleted`);
    const image = await this.images.findOne(principal, upload.imageId);
    const job = upload.jobId === null ? null : await this.jobs.findOne(principal, upload.jobId);
    return { image, job };
  }

  /** The API's answer to an error of its own in a tus request (tus's own refusals are left as they are: ApiErrorsServer words them). */
  private errorAnswer(error: Error | { status_code: number; body: string }): { status_code: number; body: string } | undefined {
    if ('status_code' in error && typeof error.body === 'string') return undefined;
    const { status, body } = describeError(error);
    if (status >= 500) this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return { status_code: status, body: JSON.stringify(body) };
  }
}

/**
 * tus's Server, its error answers in the API's error body, `{"error", "details"}`, as JSON: tus
 * words its own refusals as a line of text (`Maximum size exceeded`), the API's are JSON already
 * (UploadsService.errorAnswer).
 */
class ApiErrorsServer extends Server {
  override write(...[context, headers, status, body]: Parameters<Server['write']>): ReturnType<Server['write']> {
    if (status < 400 || body === undefined) return super.write(context, headers, status, body);
    headers.set('Content-Type', 'application/json; charset=utf-8');
    return super.write(context, headers, status, body.startsWith('{') ? body : JSON.stringify({ error: body.trim(), details: [] }));
  }
}

/** The final PATCH's answer: 200, the image (and job) as their routes show them, and the image's URL. */
function completionAnswer(outcome: UploadOutcome): { status_code: number; headers: Record<string, string>; body: string } {
  return {
    status_code: 200,
    headers: { 'Content-Type': 'application/json; charset=utf-8', Location: `/api/images/${outcome.image.id}` },
    body: JSON.stringify({ image: ImageResponseDto.from(outcome.image), job: outcome.job && JobResponseDto.from(outcome.job) }),
  };
}

/** The principal the API's guard gave the request tus is answering. */
function principalOf(request: TusRequest): Principal {
  const principal = (request.runtime?.node?.req as AuthenticatedRequest | undefined)?.principal;
  if (!principal) throw new Error('A tus request reached its hooks without the principal the guard gives every request');
  return principal;
}

function unlessNotFound(error: unknown): void {
  if (error !== ERRORS.FILE_NOT_FOUND) throw error;
}
