import { Upload } from 'tus-js-client';

/** What a resumable upload's completion answers: the image, and its job if one was asked for. */
export interface UploadOutcome<Image, Job> {
  image: Image;
  job: Job | null;
}

export interface ResumableUploadOptions {
  filename: string;
  imageType?: string;
  /** A process job to run on the image once it is stored: its steps, and their params. */
  job?: { steps: string[]; params?: Record<string, unknown> };
  presets?: string[];
  /** Bytes a PATCH carries at most (whole file: absent); smaller chunks lose less to a dropped connection. */
  chunkSize?: number;
  onProgress?: (bytesSent: number, bytesTotal: number) => void;
}

/** An upload in progress: `tus.abort()` pauses it, `tus.start()` resumes it from the server's offset. */
export interface ResumableUpload<Image, Job> {
  readonly tus: Upload;
  readonly done: Promise<UploadOutcome<Image, Job>>;
}

const TUS_VERSION = '1.0.0';

/**
 * A tus 1.0 upload to /api/uploads with tus-js-client, whose metadata carries what a multipart
 * form does. Its last PATCH answers the image (and job); an upload found complete on resuming
 * (the answer to its last PATCH was lost) asks for that answer again with an empty PATCH, which
 * the server answers alike without making a second image.
 */
export function startResumableUpload<Image, Job>(
  file: Blob | Buffer,
  endpoint: string,
  headers: () => Record<string, string>,
  options: ResumableUploadOptions,
): ResumableUpload<Image, Job> {
  let settle!: { resolve: (outcome: UploadOutcome<Image, Job>) => void; reject: (error: Error) => void };
  const done = new Promise<UploadOutcome<Image, Job>>((resolve, reject) => (settle = { resolve, reject }));
  const metadata: Record<string, string> = { filename: options.filename };
  if (options.imageType !== undefined) metadata.image_type = options.imageType;
  if (options.job) {
    metadata.job_type = JSON.stringify(options.job.steps);
    if (options.job.params) metadata.params = JSON.stringify(options.job.params);
  }
  if (options.presets) metadata.presets = JSON.stringify(options.presets);
  const size = file instanceof Blob ? file.size : file.length;
  const upload: Upload = new Upload(file, {
    endpoint,
    metadata,
    chunkSize: options.chunkSize,
    retryDelays: [0, 1000, 3000, 5000],
    // Headers are read at each request, so a token changed meanwhile is the one sent.
    onBeforeRequest: (request) => {
      for (const [name, value] of Object.entries(headers())) request.setHeader(name, value);
    },
    onProgress: options.onProgress,
    onError: (error) => settle.reject(error),
    onSuccess: ({ lastResponse }) => {
      const body = lastResponse.getBody();
      const answer = body
        ? Promise.resolve(JSON.parse(body) as UploadOutcome<Image, Job>)
        : completionOf<Image, Job>(upload.url!, size, headers());
      answer.then(settle.resolve, settle.reject);
    },
  });
  upload.start();
  return { tus: upload, done };
}

async function completionOf<Image, Job>(url: string, size: number, headers: Record<string, string>): Promise<UploadOutcome<Image, Job>> {
  const response = await fetch(url, {
    method: 'PATCH',
    headers: { ...headers, 'Tus-Resumable': TUS_VERSION, 'Upload-Offset': String(size), 'Content-Type': 'application/offset+octet-stream' },
    body: new Uint8Array(0),
  });
  const body = (await response.json().catch(() => undefined)) as UploadOutcome<Image, Job> | { error?: string } | undefined;
  if (!response.ok || !body || !('image' in body)) {
    throw new Error(`The completed upload's answer could not be read again (${response.status}): ${JSON.stringify(body)}`);
  }
  return body;
}
