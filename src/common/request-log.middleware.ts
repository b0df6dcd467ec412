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
 * sent it, credentials in the query redacted), `user_id` once authenticated, `res` (status) and
 * `responseTime` (ms), at `error` with "request errored" for a 5xx, "request aborted" when the
 * client left before it sent its whole request or got the whole answer, "request completed"
 * otherwise. These are the lines pino-http wrote; written here with one listener and one log
 * call, since pino-http's child logger and serializers cost every request about as much again.
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
      const bodyBytes = countBodyBytes(response);
      response.once('close', () =>
        logRequest(logger, request, response, id, { method, url: originalUrl }, Date.now() - started, bodyBytes()),
      );
    }
    withLogContext({ req_id: id }, next);
  };
}

/**
 * The bytes of body handed to the response so far. A streamed file's source signals its end only
 * after its last bytes went out (a file is read once more to find it has no more): a client that
 * hangs up on receiving the last byte, as curl does, closes the response before it ends, and the
 * answer is complete all the same when every byte its Content-Length announced was sent.
 */
function countBodyBytes(response: Response): () => number {
  let sent = 0;
  const write = response.write;
  response.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
    sent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Response['write'];
  return () => sent;
}

/** `id` is written as well as taken from the log context: a client gone early closes the response outside the request's context. */
function logRequest(
  logger: pino.Logger,
  request: Request,
  response: Response,
  id: string,
  req: { method: string; url: string },
  responseTime: number,
  bodyBytes: number,
): void {
  const status = response.statusCode;
  // Set by the auth guard; read by shape, so that this folder does not depend on auth's.
  const userId = (request as { principal?: { userId?: number | null } }).principal?.userId;
  const fields = {
    req_id: id,
    ...(typeof userId === 'number' ? { user_id: userId } : {}),
    req: { method: req.method, url: req.url.includes('?') ? req.url.replace(SECRET_QUERY, '$1[redacted]') : req.url },
    res: { status },
    responseTime,
  };
  if (status >= 500) {
    logger.error({ ...fields, err: new Error(`failed with status code ${status}`) }, 'request errored');
  } else {
    logger.info(fields, request.complete && answered(response, bodyBytes) ? 'request completed' : 'request aborted');
  }
}

/**
 * Whether the whole answer was sent: ended, or every byte of its declared length written. (Not
 * whether the request stream was read to its end: a GET nobody read is cut short when its client
 * hangs up, complete as it arrived.)
 */
function answered(response: Response, bodyBytes: number): boolean {
  if (response.writableEnded) return true;
  const declared = Number(response.getHeader('content-length'));
  return response.headersSent && Number.isInteger(declared) && declared > 0 && bodyBytes >= declared;
}
