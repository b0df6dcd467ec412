import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * The routes whose body is not JSON, or not only JSON (paths as routed: after the `.json` suffix
 * is stripped). Their handlers read the body themselves: a multipart upload, or an image's bytes.
 */
const OTHER_BODIES: { method: string; path: RegExp; alsoAccepts: string[] | 'anything' }[] = [
  { method: 'POST', path: /^\/api\/images\/?$/i, alsoAccepts: ['multipart/form-data'] },
  { method: 'PUT', path: /^\/api\/images\/[^/]+\/file\/?$/i, alsoAccepts: 'anything' },
  // tus: bytes (application/offset+octet-stream), which the tus server itself checks.
  { method: 'POST', path: /^\/api\/uploads\/?$/i, alsoAccepts: 'anything' },
  { method: 'PATCH', path: /^\/api\/uploads\/[^/]+\/?$/i, alsoAccepts: 'anything' },
];

const JSON_TYPE = 'application/json';
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A body sent as anything but JSON — `curl -d '{…}'` sends application/x-www-form-urlencoded —
 * would be parsed as something else and fail validation with a message about its fields. It is
 * refused up front with 415 naming the type expected and the type received. Requests without a
 * body (POST /api/jobs/:id/cancel) are not concerned.
 */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  if (!BODY_METHODS.has(req.method) || !hasBody(req)) return next();
  const path = req.path;
  const route = OTHER_BODIES.find((candidate) => candidate.method === req.method && candidate.path.test(path));
  if (route?.alsoAccepts === 'anything') return next();
  const accepted = [JSON_TYPE, ...(route?.alsoAccepts ?? [])];
  if (req.headers['content-type'] && req.is(accepted)) return next();
  next(new UnsupportedMediaTypeException(unsupportedBodyMessage(req.headers['content-type'], accepted)));
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
}

export function unsupportedBodyMessage(contentType: string | undefined, accepted: string[]): string {
  const got = contentType?.trim() ? contentType.trim().slice(0, 100) : 'no Content-Type';
  const others = accepted
    .filter((type) => type !== JSON_TYPE)
    .map((type) => `, or as ${type}`)
    .join('');
  return `Send the body as JSON with Content-Type: ${JSON_TYPE}${others} (got ${got})`;
}
