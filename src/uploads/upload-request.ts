import { invalidField } from '../pipelines/invalid-input.error';
import { validateBody } from '../common/api-validation.pipe';
import { isStorableText } from '../common/is-storable-text.decorator';
import { CreateImageDto } from '../images/dto/create-image.dto';
import { CreateJobDto } from '../jobs/dto/create-job.dto';
import { parseJobSpec } from '../pipelines/job-spec';
import { pipelineKind } from '../pipelines/job-sequence';

/** The longest filename an upload's metadata may give. */
const MAX_FILENAME = 255;

/** What a resumable upload's metadata asks for, checked: what a multipart upload's form carries. */
export interface UploadRequest {
  /** The client's name for the file; kept with the upload, not with the image (as a form's file name). */
  filename: string | null;
  /** The image's fields, as `POST /api/images` takes them. */
  image: Pick<CreateImageDto, 'image_type' | 'user_id' | 'presets'>;
  /** A process job on the uploaded image, made once it is stored; null: none. */
  job: { job_type: string[]; params: Record<string, unknown> } | null;
}

/**
 * Reads an upload's tus metadata (`Upload-Metadata`, its values decoded): `filename`, `image_type`,
 * `user_id` (admins), `presets` and `job_type` (JSON lists or comma-separated), `params` (a JSON
 * object). Each is checked by the rules of the route that takes it elsewhere: the image's as
 * `POST /api/images` checks its form, the job's as `POST /api/jobs` checks its body (steps of the
 * catalogue, their parameters). Other keys, which tus clients add (`filetype`, `name`), are ignored.
 * Throws InvalidInputError naming the key at fault.
 */
export async function readUploadRequest(metadata: Record<string, string | null> | undefined): Promise<UploadRequest> {
  const values = metadata ?? {};
  const text = (key: string): string | undefined => (values[key] === null || values[key] === undefined ? undefined : values[key]);
  const filename = text('filename') ?? null;
  if (filename !== null && (filename.length > MAX_FILENAME || !isStorableText(filename))) {
    throw invalidField('filename', `filename must be text of at most ${MAX_FILENAME} characters`);
  }
  const userId = text('user_id');
  const image = await validateBody(CreateImageDto, {
    image_type: text('image_type'),
    user_id: userId !== undefined && /^-?[0-9]{1,30}$/.test(userId) ? Number(userId) : userId,
    presets: list(text('presets'), 'presets'),
  });
  const jobType = list(text('job_type'), 'job_type');
  const params = jsonObject(text('params'), 'params');
  if (jobType === undefined) {
    if (params !== undefined) throw invalidField('params', 'params are the parameters of a job: name its steps in job_type');
    return { filename, image: { image_type: image.image_type, user_id: image.user_id, presets: image.presets }, job: null };
  }
  const job = await validateBody(CreateJobDto, { job_type: jobType, params });
  const spec = parseJobSpec(job);
  if (pipelineKind(spec.sequence) !== 'process') {
    throw invalidField('job_type', "An upload's job works on the uploaded image: name process steps, not a query or search");
  }
  return {
    filename,
    image: { image_type: image.image_type, user_id: image.user_id, presets: image.presets },
    job: { job_type: job.job_type!, params: job.params ?? {} },
  };
}

/** A JSON list (`["a","b"]`) or a comma-separated one (`a,b`), as given; undefined when absent. */
function list(value: string | undefined, key: string): unknown {
  if (value === undefined) return undefined;
  if (!value.trimStart().startsWith('[')) {
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
  try {
    return JSON.parse(value);
  } catch (error) {
    throw invalidField(key, `${key} must be a JSON list or a comma-separated one: ${(error as Error).message}`);
  }
}

function jsonObject(value: string | undefined, key: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw invalidField(key, `${key} must be a JSON object: ${(error as Error).message}`);
  }
}
