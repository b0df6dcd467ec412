import busboy from 'busboy';
import type { Request } from 'express';
import { Readable } from 'node:stream';
import { invalidField } from './api-errors';

/**
 * Reads a `multipart/form-data` request whose `file` part is handed, as a stream, to `onFile`
 * while the request is still arriving: the file is never held whole in memory.
 */
export function readMultipartUpload<T>(
  request: Request,
  onFile: (file: Readable) => Promise<T>,
): Promise<{ fields: Record<string, string>; file: T }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: request.headers, limits: { files: 1, fields: 20, fieldSize: 4096, parts: 21 } });
    } catch (error) {
      return reject(invalidField('body', `Malformed multipart request: ${(error as Error).message}`));
    }
    const fields: Record<string, string> = {};
    let upload: Promise<T> | null = null;
    const fail = (error: unknown) => {
      request.unpipe(parser);
      request.resume();
      reject(error);
    };
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, stream) => {
      if (name !== 'file' || upload) {
        stream.resume();
        return fail(invalidField(name, `Send the image as one part named "file", not "${name}"`));
      }
      upload = onFile(stream);
      upload.catch(fail);
    });
    parser.on('filesLimit', () => fail(invalidField('file', 'Send one file per request')));
    parser.on('error', (error) => fail(invalidField('body', `Malformed multipart request: ${(error as Error).message}`)));
    parser.on('close', () => {
      if (!upload) return fail(invalidField('file', 'file is required: a part named "file" holding the image'));
      upload.then((file) => resolve({ fields, file }), reject);
    });
    request.pipe(parser);
  });
}
