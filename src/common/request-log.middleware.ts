import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type pino from 'pino';
import { withLogContext } from './log-context';

/** A caller's own X-Request-Id is kept when it is a plausible id, so logs join across services. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Query parameters that carry credentials (the events stream's access token) never reach a log. */
const SECRET_QUERY = /([?&](?:access_token|token)=)[^&]*/gi;

/**
 * Gives each request an id (answered as X-Request-Id) that every log line written while serving it
 * carries, and, given a logger, logs each request once it ends: `req` (method and URL as the client
 * sent it, credentials in the query redacted), `res` (status) and `responseTime` (ms), at `error`
 * with "request errored" for a 5xx, "request aborted" when the client left before the answer
 * ended, "request completed" otherwise. These are the lines pino-http wrote; written here with one
 * listener and one log call, since pino-http's child logger and serializers cost every request
 * about as much again.
 */
export function requestLogging(logger?: pino.Logger): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const offered = request.headers['x-request-id'];
    const id = typeof offered === 'string' && CALLER_REQUEST_ID.test(offered) ? offered : randomUUID();
    (request as { id?: string }).id = id;
    response.setHeader('X-Request-Id', id);
    if (logger) {
      const started = Date.now();
      const { method, originalUrl } = request;
      response.once('close', () => logRequest(logger, request, response, id, { method, url: originalUrl }, Date.now() - started));
    }
    withLogContext({ req_id: id }, next);
  };
}

/** `id` is written as well as taken from the log context: a client gone early closes the response outside the request's context. */
function logRequest(
  logger: pino.Logger,
  request: Request,
  response: Response,
  id: string,
  req: { method: string; url: string },
  responseTime: number,
): void {
  const status = response.statusCode;
  const fields = {
    req_id: id,
    req: { method: req.method, url: req.url.includes('?') ? req.url.replace(SECRET_QUERY, '$1[redacted]') : req.url },
    res: { status },
    responseTime,
  };
  if (status >= 500) {
    logger.error({ ...fields, err: new Error(`failed with status code ${status}`) }, 'request errored');
  } else {
    logger.info(fields, !request.readableAborted && response.writableEnded ? 'request completed' : 'request aborted');
  }
}
