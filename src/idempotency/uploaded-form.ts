import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { readMultipartUpload } from '../common/multipart-upload';
import { RequestShape } from './idempotency-key';

/** What a multipart upload sent, once read: its fields and its file's SHA-256. */
export interface UploadedForm {
  fields: Record<string, string>;
  fileSha256: string;
}

const UPLOADED_FORM = Symbol('uploadedForm');

/**
 * Called by the handler that reads a multipart upload, once it has: the request's Idempotency-Key
 * then keeps a fingerprint of the form itself. Before, it could only have one of the form's route,
 * since the body is read by the handler, after the key is claimed.
 */
export function recordUploadedForm(request: Request, form: UploadedForm): void {
  (request as Request & { [UPLOADED_FORM]?: UploadedForm })[UPLOADED_FORM] = form;
}

export function uploadedFormOf(request: Request): UploadedForm | undefined {
  return (request as Request & { [UPLOADED_FORM]?: UploadedForm })[UPLOADED_FORM];
}

/** The body a multipart request's fingerprint covers: the fields, whatever their order, and the file's digest, whatever the boundary. */
export function formBody(form: UploadedForm): RequestShape['body'] {
  return { fields: form.fields, file_sha256: form.fileSha256 };
}

/**
 * Reads a retried upload's form to compare it with the first one, without storing anything. A
 * file larger than `maxBytes` cannot be the first request's, which was refused past that size.
 */
export async function readUploadedForm(request: Request, maxBytes: number): Promise<UploadedForm | null> {
  try {
    const { fields, file } = await readMultipartUpload(request, (stream) => sha256Of(stream, maxBytes));
    return { fields, fileSha256: file };
  } catch {
    return null;
  }
}

function sha256Of(stream: Readable, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        stream.destroy();
        reject(new Error(`larger than ${maxBytes} bytes`));
      } else {
        hash.update(chunk);
      }
    });
    stream.once('end', () => resolve(hash.digest('hex')));
    stream.once('error', reject);
  });
}
