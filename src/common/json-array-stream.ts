import { Logger } from '@nestjs/common';
import type { Response } from 'express';
import { pipeline, Readable } from 'node:stream';

const logger = new Logger('JsonArrayStream');

/** Text handed to the socket at a time: large enough that a million rows are not a million writes. */
const CHUNK_CHARS = 64 * 1024;

async function* jsonArrayText(batches: AsyncIterable<string[]>): AsyncGenerator<string> {
  let chunk = '[';
  let separator = '';
  for await (const batch of batches) {
    for (const json of batch) {
      chunk += separator + json;
      separator = ',';
    }
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  yield `${chunk}]`;
}

/**
 * Answers 200 with a JSON array of the JSON texts in `batches`, written as they arrive, so that
 * its size never sits in memory. The status is sent with the first chunk, so whatever fails before must fail before this
 * is called (see ImageRepository.stream). Once the answer has begun, an error destroys the
 * connection: the client sees an aborted response, never a truncated array that looks whole. A
 * client that goes away ends the iteration, which frees what `batches` holds.
 */
export function sendJsonArray(response: Response, batches: AsyncIterableIterator<string[]>): void {
  response.status(200).type('application/json');
  if (response.req.method === 'HEAD') {
    void batches.return?.();
    response.end();
    return;
  }
  pipeline(Readable.from(jsonArrayText(batches), { highWaterMark: 1 }), response, (error) => {
    if (!error) return;
    // A client gone before the first chunk leaves the text generator unstarted, so nothing
    // else would close the rows.
    void batches.return?.();
    response.destroy();
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      logger.error(`A streamed list was cut off by an error: ${error.message}`, error.stack);
    }
  });
}
