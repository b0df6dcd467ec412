import { InvalidInputError } from '../pipelines/invalid-input.error';
import { parseInjection } from './job-injection';
import { optionOf, parseInjectArgs } from './inject-cli-args';

const NOW = new Date('2026-12-02T18:30:00Z');

function faults(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof InvalidInputError) return error.details.map((detail) => detail.field);
    throw error;
  }
  throw new Error('expected an InvalidInputError');
}

describe('parseInjection', () => {
  it('reads the sequence as POST /api/jobs.json does and the filters as the index routes do', () => {
    expect(parseInjection({ job_sequence: ['grayscale', 'histogram'], image_type: 'original', user_id: 7, days: 'today' }, NOW)).toEqual({
      sequence: ['process', 'grayscale', 'histogram'],
      params: {},
      imageType: 'original',
      userId: 7,
      since: new Date('2026-12-02T00:00:00Z'),
      force: false,
      dryRun: false,
    });
    expect(
      parseInjection({ job_sequence: ['resize'], params: { resize: { width: 8 } }, days: '2', force: true, dry_run: true }, NOW),
    ).toMatchObject({
      params: { resize: { width: 8 } },
      since: new Date('2026-11-30T18:30:00Z'),
      force: true,
      dryRun: true,
    });
  });

  it('names every fault of the job and of the selection at once', () => {
    expect(faults(() => parseInjection({}, NOW))).toEqual(['job_sequence']);
    expect(faults(() => parseInjection({ job_sequence: ['search', 'histogram', 'nearest_neighbor'] }, NOW))).toEqual(['job_sequence']);
    expect(faults(() => parseInjection({ job_sequence: ['sparkle'], params: { blur: {} }, days: '0', image_type: '' }, NOW))).toEqual([
      'job_sequence',
      'params.blur',
      'days',
      'image_type',
    ]);
  });
});

describe('npm run inject arguments', () => {
  it('become the body POST /api/jobs/inject.json takes', async () => {
    const command = await parseInjectArgs([
      '--job-sequence',
      'process, resize',
      '--params',
      '{"resize": {"width": 8}}',
      '--image-type',
      'original',
      '--user-id',
      '3',
      '--days',
      '7',
      '--force',
      '--dry-run',
    ]);
    expect(command).toEqual({
      action: 'inject',
      dto: expect.objectContaining({
        job_sequence: ['process', 'resize'],
        params: { resize: { width: 8 } },
        image_type: 'original',
        user_id: 3,
        days: '7',
        force: true,
        dry_run: true,
      }),
    });
    expect(await parseInjectArgs(['--help'])).toEqual({ action: 'help' });
  });

  it('are refused together, each naming its field, which names its option', async () => {
    const refused = await parseInjectArgs([
      '--job-sequence',
      'process,sparkle',
      '--params',
      '{',
      '--user-id',
      'me',
      '--days',
      'soon',
    ]).catch((error) => error);
    expect(refused.details.map((detail: { field: string }) => detail.field)).toEqual(['params', 'user_id', 'job_sequence', 'days']);
    expect(optionOf('params.resize.width')).toBe('--params');
    expect(optionOf('dry_run')).toBe('--dry-run');
    const unknown = await parseInjectArgs(['--limit', '5']).catch((error) => error);
    expect(unknown.details).toEqual([{ field: 'arguments', message: 'Unknown option --limit (see --help)' }]);
  });
});
