import { StreamableFile } from '@nestjs/common';
import type { Request, Response } from 'express';
import { answerStoredFile } from '../common/conditional-get';
import type { ImageFilesService } from '../images/image-files.service';
import type { DerivativeAnswer } from './derivatives.service';
import { DerivativePendingDto, jobUrl } from './dto/derivative-pending.dto';

/** Seconds a client is told to wait before asking again for a derivative still being made: its next request waits DERIVATIVE_WAIT itself. */
export const RETRY_AFTER_SECONDS = 1;

export const CLAIMED_ELSEWHERE = 'Another request is creating this derivative’s job; ask again shortly';

export type DerivativeBody = StreamableFile | DerivativePendingDto | { error: string; details: [] } | undefined;

/**
 * A derivative's answer, whichever route asked for it (bearer or signed URL): the file as a stored
 * file is answered (ETag, 304, Range), 202 while its job runs, 503 while another request creates
 * it. `cacheControl` applies to the file only: a 202 or 503 is never cached.
 */
export async function sendDerivative(
  answer: DerivativeAnswer,
  name: string,
  request: Request,
  response: Response,
  files: ImageFilesService,
  cacheControl: string,
): Promise<DerivativeBody> {
  if (answer.negotiated) response.setHeader('Vary', 'Accept');
  if (answer.kind === 'claimed_elsewhere') {
    response.status(503).setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    response.setHeader('Cache-Control', 'no-store');
    return { error: CLAIMED_ELSEWHERE, details: [] };
  }
  if (answer.kind === 'pending') {
    response.status(202).setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('Location', jobUrl(answer.job.id));
    return DerivativePendingDto.from(answer.job, RETRY_AFTER_SECONDS);
  }
  const { file } = answer;
  const stored = answerStoredFile(request, file);
  response.set(stored.headers);
  response.setHeader('Cache-Control', cacheControl);
  response.status(stored.status);
  if (stored.status === 304) return undefined;
  return new StreamableFile(await files.readFile(file, stored.range), {
    type: file.mime,
    length: stored.length,
    disposition: `inline; filename="${name}.${file.filename.split('.').pop()}"`,
  });
}
