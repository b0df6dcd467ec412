import { CallHandler, ConflictException, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { catchError, defer, finalize, from, mergeAll, mergeMap, Observable, of, throwError } from 'rxjs';
import { invalidField } from '../common/api-errors';
import { describeError } from '../common/api-exception.filter';
import { AppConfig } from '../config/app-config';
import type { AuthenticatedRequest } from '../identity/current-principal.decorator';
import { IDEMPOTENCY_KEY_IGNORED } from './idempotency-key-ignored.decorator';
import { Claim, IdempotencyKeyRepository, StoredAnswer } from './idempotency-key.repository';
import {
  idempotencyKeyOf,
  IDEMPOTENCY_KEY_HEADER,
  isReplayable,
  KEYED_METHODS,
  REPLAYED_HEADER,
  REPLAYED_RESPONSE_HEADERS,
  requestFingerprint,
  RequestShape,
} from './idempotency-key';
import { formBody, readUploadedForm, uploadedFormOf } from './uploaded-form';

/**
 * A multipart upload's form is read by its handler, after the key is claimed: until then this
 * stands in the fingerprint for it (see uploaded-form.ts).
 */
const MULTIPART_BODY = 'multipart/form-data';

/** Whose key it is, which, and this request's claim on it. */
interface Held {
  owner: string;
  key: string;
  lease: string;
}

/**
 * `Idempotency-Key` on the API's POSTs and PATCHes (issue 24; docs/api.md, "Idempotent retries").
 * Runs after the guards, so the key belongs to the authenticated caller; the pipes that check the
 * body run inside the handler it wraps, so a refused body is an answer like any other.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger(IdempotencyInterceptor.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: IdempotencyKeyRepository,
    private readonly config: AppConfig,
  ) {}

  /** A request without a key, every GET among them, passes through at once: no promise, no query. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['idempotency-key'];
    if (header === undefined || !KEYED_METHODS.has(request.method) || !request.path.startsWith('/api/')) return next.handle();
    // Unauthenticated routes (sign-up, sign-in) answer bearer tokens, which are never stored.
    if (!request.principal || this.reflector.get<boolean>(IDEMPOTENCY_KEY_IGNORED, context.getHandler())) return next.handle();
    const key = idempotencyKeyOf(header);
    return defer(() => this.keyed(context, next, request, key)).pipe(mergeAll());
  }

  private async keyed(
    context: ExecutionContext,
    next: CallHandler,
    request: AuthenticatedRequest,
    key: string,
  ): Promise<Observable<unknown>> {
    const owner = request.principal.userId === null ? 'admin-token' : `user:${request.principal.userId}`;
    // is() answers null for a request without a body, false for another type.
    const multipart = Boolean(request.is('multipart/form-data'));
    const shape: RequestShape = {
      method: request.method,
      path: request.path,
      query: request.query,
      body: multipart ? MULTIPART_BODY : request.body,
    };
    const fingerprint = requestFingerprint(shape);
    const response = context.switchToHttp().getResponse<Response>();
    const claim = await this.keys.claim(owner, key, fingerprint, this.config.IDEMPOTENCY_LEASE, this.config.IDEMPOTENCY_TTL);
    if (claim.kind !== 'claimed') {
      try {
        return of(await this.answerRetry(claim, fingerprint, shape, request, response));
      } finally {
        // Whatever of an upload's body was not read to compare it: the answer does not wait for it.
        if (multipart) request.resume();
      }
    }
    const held: Held = { owner, key, lease: claim.lease };
    const renewal = setInterval(
      () => {
        this.keys.renew(owner, key, claim.lease, this.config.IDEMPOTENCY_LEASE).catch((error: Error) => this.warn(held, 'renew', error));
      },
      (this.config.IDEMPOTENCY_LEASE * 1000) / 3,
    );
    renewal.unref();
    // An upload's answer is kept under its form's own fingerprint, once its handler has read the
    // form. One that ended before (a quota, a file that is no image) stored nothing: it is not
    // kept, so that its retry, with whatever file, is done afresh.
    const answered = (): Buffer | null => {
      if (!multipart) return fingerprint;
      const form = uploadedFormOf(request);
      return form ? requestFingerprint({ ...shape, body: formBody(form) }) : null;
    };
    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        await this.settle(held, answered(), { status: response.statusCode, headers: replayedHeaders(response), body: jsonText(body) });
        return body;
      }),
      catchError((error: unknown) => {
        const { status, body } = describeError(error);
        // Rethrown once settled: the exception filter answers it, as it would without a key.
        return from(this.settle(held, answered(), { status, headers: {}, body: JSON.stringify(body) })).pipe(
          mergeMap(() => throwError(() => error)),
        );
      }),
      // Also should the response be torn down unanswered: the lease then runs out on its own.
      finalize(() => clearInterval(renewal)),
    );
  }

  /** A retry of a key another request holds or answered: 422 if it is not the same request, 409 while in flight, else the replay. */
  private async answerRetry(
    claim: Exclude<Claim, { kind: 'claimed' }>,
    fingerprint: Buffer,
    shape: RequestShape,
    request: AuthenticatedRequest,
    response: Response,
  ): Promise<unknown> {
    if (
      !claim.fingerprint.equals(fingerprint) &&
      !(claim.kind === 'answered' && (await this.sameUpload(claim.fingerprint, shape, request)))
    ) {
      throw invalidField(
        IDEMPOTENCY_KEY_HEADER,
        'This Idempotency-Key was used for a different request (method, path or body): use a new key for a new request',
      );
    }
    if (claim.kind === 'in-flight') {
      response.setHeader('Retry-After', '1');
      throw new ConflictException('A request with this Idempotency-Key is still in progress: retry it once that one has been answered');
    }
    return replay(response, claim.answer);
  }

  /** Whether a retried upload sends the form whose answer is kept: read, hashed and dropped. */
  private async sameUpload(stored: Buffer, shape: RequestShape, request: AuthenticatedRequest): Promise<boolean> {
    if (shape.body !== MULTIPART_BODY) return false;
    const form = await readUploadedForm(request, this.config.MAX_UPLOAD_BYTES);
    return form !== null && stored.equals(requestFingerprint({ ...shape, body: formBody(form) }));
  }

  /**
   * Keeps the answer, or gives the key up for a retryable one (or one without a fingerprint). A failure here is logged, not
   * answered: the work is done and its answer goes out; the key stays in flight until its lease
   * ends, and a retry then does the work again, as it would have without a key.
   */
  private async settle(held: Held, fingerprint: Buffer | null, answer: StoredAnswer): Promise<void> {
    try {
      if (fingerprint && isReplayable(answer.status)) await this.keys.answer(held.owner, held.key, held.lease, fingerprint, answer);
      else await this.keys.release(held.owner, held.key, held.lease);
    } catch (error) {
      this.warn(held, 'record the answer of', error as Error);
    }
  }

  private warn(held: Held, action: string, error: Error): void {
    this.logger.warn(`Could not ${action} Idempotency-Key ${JSON.stringify(held.key)} of ${held.owner}: ${error.message}`);
  }
}

function replay(response: Response, answer: StoredAnswer): unknown {
  response.status(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  response.setHeader(REPLAYED_HEADER, 'true');
  return answer.body === null ? undefined : JSON.parse(answer.body);
}

function replayedHeaders(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_RESPONSE_HEADERS) {
    const value = response.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  return headers;
}

/** The body as the response sends it (Express's res.json is JSON.stringify); null for none. */
function jsonText(body: unknown): string | null {
  return body === undefined || body === null ? null : JSON.stringify(body);
}
