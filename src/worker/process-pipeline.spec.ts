import { Logger } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import sharp from 'sharp';
import { context, fixture } from '../../test/fixtures/fixtures';
import type { AppConfig } from '../config/app-config';
import type { Job } from '../job-runs/job.entity';
import type { JobOutputRepository } from '../job-runs/job-output.repository';
import { Attempt, type JobOutcome, type JobRunner, type StoredOutput } from '../job-runs/job-runner';
import type { QueuedJobData } from '../job-runs/queue-names';
import type { JobMetrics } from '../metrics/job-metrics';
import type { OperationOutput } from '../pipelines/operation-output';
import type { StorageDriver } from '../storage/storage.driver';
import type { ImageVerificationRepository } from './image-verification.repository';
import { decodePixels, openStepInput, ProcessPipeline } from './process-pipeline';
import { operation as thumbnail } from './operations/thumbnail.operation';
import { operation as grayscale } from './operations/grayscale.operation';

const MAX_PIXELS = 100_000_000;

/** Every input that sharp was asked to decode (opened with `failOn`, as encoded bytes are), by the code under test. */
const mockDecoded: unknown[] = [];
jest.mock('sharp', () => {
  const actual = jest.requireActual('sharp');
  const counting = (input: unknown, options?: { failOn?: string }) => {
    if (options?.failOn) mockDecoded.push(input);
    return actual(input, options);
  };
  return Object.assign(counting, actual);
});

describe('decodePixels, one decode for the branches of a job', () => {
  it('gives the upright pixels, which operations read as they read the file', async () => {
    const bytes = fixture('astronaut-orientation-6.jpg');
    const decoded = await decodePixels(bytes, MAX_PIXELS);
    expect(decoded).toMatchObject({ width: 160, height: 256, channels: 3 });
    const fromPixels = await thumbnail.run(openStepInput({ decoded }, MAX_PIXELS), {}, context);
    const fromBytes = await thumbnail.run(openStepInput({ data: bytes }, MAX_PIXELS), {}, context);
    expect(fromPixels).toMatchObject({ format: 'jpeg', width: 160, height: 256 });
    expect(fromBytes).toMatchObject({ format: fromPixels.format, width: fromPixels.width, height: fromPixels.height });
    expect((await sharp(fromPixels.data).metadata()).orientation).toBeUndefined();
  });

  it('feeds several operations from the same pixels, which none of them changes', async () => {
    const decoded = await decodePixels(fixture('coffee.png'), MAX_PIXELS);
    const before = Buffer.from(decoded.data);
    const grey = await grayscale.run(openStepInput({ decoded }, MAX_PIXELS), {}, context);
    const small = await thumbnail.run(openStepInput({ decoded }, MAX_PIXELS), {}, context);
    expect(grey).toMatchObject({ width: 300, height: 200 });
    expect(small).toMatchObject({ format: 'jpeg', width: 256, height: 171 });
    expect(decoded.data.equals(before)).toBe(true);
  });

  it('keeps transparency, so that an operation still sees it', async () => {
    const translucent = await sharp(fixture('coffee.png')).ensureAlpha(0.5).png().toBuffer();
    const decoded = await decodePixels(translucent, MAX_PIXELS);
    expect(decoded.channels).toBe(4);
    expect(await thumbnail.run(openStepInput({ decoded }, MAX_PIXELS), {}, context)).toMatchObject({ format: 'png' });
  });

  it('decodes 16-bit images to 8 bits, as every operation writes them', async () => {
    const deep = await sharp(fixture('coffee.png')).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    const decoded = await decodePixels(deep, MAX_PIXELS);
    expect(decoded.data.length).toBe(decoded.width * decoded.height * decoded.channels);
  });

  it('refuses what the step would refuse: an image past the pixel limit, a broken file', async () => {
    await expect(decodePixels(fixture('coffee.png'), 1000)).rejects.toThrow(/pixel limit/);
    await expect(decodePixels(fixture('astronaut.jpg').subarray(0, 5000), MAX_PIXELS)).rejects.toThrow();
  });
});

describe('ProcessPipeline, a job of branches', () => {
  // Each step's debug line is of no use here.
  beforeAll(() => Logger.overrideLogger(['warn', 'error']));
  /** Runs a forced job (no reuse) on `file` with fakes around the pipeline; what each step made, and the source's reads. */
  async function run(file: string, jobType: string[], params: Record<string, unknown>) {
    const source = fixture(file);
    const reads: string[] = [];
    const made: OperationOutput[] = [];
    const job = { id: 1, imageId: 7, userId: 1, jobType, params, environment: null, force: true, timeout: 60 } as unknown as Job;
    const inputs = {
      source: { id: 7, s3Key: 'originals/7.jpg', sha256: 'a'.repeat(64), status: 'original_stored', corruptReason: null, verifiedAt: null },
      recorded: new Map(),
    };
    const attempt = new Attempt(job, { jobId: 1, deliveryId: 'd', attempt: 1 }, new AbortController().signal, inputs);
    let outcome: JobOutcome | undefined;
    const runner = {
      run: async (_queued: unknown, work: (attempt: Attempt) => Promise<JobOutcome>) => void (outcome = await work(attempt)),
      read: async (key: string) => {
        reads.push(key);
        if (key === inputs.source.s3Key) return source;
        return made[Number(key)].data;
      },
      storeOutput: async (_attempt: Attempt, index: number, _step: string, output: OperationOutput): Promise<StoredOutput> => {
        made[index] = output;
        return { id: 100 + index, s3Key: String(index), sha256: String(index).padStart(64, '0') };
      },
    } as unknown as JobRunner;
    const config = { MAX_PIXELS, PNG_COMPRESSION: 1 } as AppConfig;
    const metrics = { stepEnded: () => undefined } as unknown as JobMetrics;
    const pipeline = new ProcessPipeline(
      runner,
      {} as JobOutputRepository,
      {} as StorageDriver,
      config,
      metrics,
      {} as ImageVerificationRepository,
    );
    await pipeline.run({ name: jobType.slice(1).join('+'), data: { jobId: 1, deliveryId: 'd' } } as QueuedJob<QueuedJobData>);
    return { outcome: outcome!, made, reads, source };
  }

  // A PNG source is decoded once for both branches; a JPEG one is opened by each (DECODED_AT_REDUCED_SCALE).
  it.each([
    ['astronaut.png', 1],
    ['astronaut.jpg', 2],
  ])('starts each branch from %s, read once and decoded %i time(s), and each step after from its previous step', async (file, decodes) => {
    mockDecoded.length = 0;
    const { outcome, made, reads, source } = await run(file, ['process', 'grayscale', 'convert', 'thumbnail', 'convert'], {
      branches: [
        { steps: ['grayscale', 'convert'], params: { convert: { format: 'jpeg' } } },
        { steps: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } },
      ],
    });
    expect(outcome.outputImageIds).toEqual([100, 101, 102, 103]);
    expect(reads.filter((key) => key === 'originals/7.jpg')).toHaveLength(1);
    expect(mockDecoded.filter((input) => input === source)).toHaveLength(decodes);
    const { width: side } = await sharp(fixture(file)).metadata();
    expect(made.map(({ format, width, height }) => [format, width, height])).toEqual([
      ['png', side, side],
      ['jpeg', side, side],
      ['jpeg', 256, 256],
      ['webp', 256, 256],
    ]);
    const [red, , blue] = (await sharp(made[3].data).stats()).channels;
    expect(red.mean - blue.mean).toBeGreaterThan(20);
  });

  it('reads an ordinary job as one chain, each step from the previous one', async () => {
    const { made } = await run('astronaut.jpg', ['process', 'grayscale', 'thumbnail'], {});
    const [red, green, blue] = (await sharp(made[1].data).stats()).channels;
    expect(made[1]).toMatchObject({ width: 256, height: 256 });
    expect(red.mean).toBeCloseTo(green.mean, 0);
    expect(green.mean).toBeCloseTo(blue.mean, 0);
  });
});
