import { InvalidInputError } from '../pipelines/invalid-input.error';
import { readUploadRequest } from './upload-request';

async function refusal(metadata: Record<string, string | null>): Promise<InvalidInputError> {
  const error = await readUploadRequest(metadata).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

describe('readUploadRequest', () => {
  it('reads what a multipart form carries, lists as JSON or comma-separated, and ignores what tus clients add', async () => {
    expect(
      await readUploadRequest({
        filename: 'IMG_0001.jpg',
        filetype: 'image/jpeg',
        image_type: 'original',
        presets: 'thumb_256, medium_1024',
        job_type: '["grayscale", "resize"]',
        params: '{"resize": {"width": 800}}',
      }),
    ).toEqual({
      filename: 'IMG_0001.jpg',
      image: { image_type: 'original', user_id: undefined, presets: ['thumb_256', 'medium_1024'] },
      job: { job_type: ['grayscale', 'resize'], params: { resize: { width: 800 } } },
    });
    expect(await readUploadRequest({ job_type: 'grayscale,histogram' })).toMatchObject({
      job: { job_type: ['grayscale', 'histogram'], params: {} },
    });
    expect(await readUploadRequest(undefined)).toEqual({ filename: null, image: {}, job: null });
  });

  it('names the key at fault, by the rules of POST /api/images and POST /api/jobs', async () => {
    expect((await refusal({ job_type: 'grayscale,no_such_step' })).details[0].field).toBe('job_type');
    expect((await refusal({ job_type: 'resize', params: '{"resize": {"width": "wide"}}' })).details[0].field).toMatch(/^params/);
    expect((await refusal({ job_type: 'grayscale', params: 'not json' })).details).toEqual([
      { field: 'params', message: expect.stringMatching(/^params must be a JSON object/) },
    ]);
    expect((await refusal({ params: '{}' })).details[0].field).toBe('params');
    expect((await refusal({ job_type: '["query", "median"]' })).details[0].field).toBe('job_type');
    expect((await refusal({ presets: 'Not A Preset' })).details[0].field).toBe('presets');
    expect((await refusal({ user_id: 'seven' })).details[0].field).toBe('user_id');
    expect((await refusal({ filename: 'x'.repeat(256) })).details[0].field).toBe('filename');
  });
});
