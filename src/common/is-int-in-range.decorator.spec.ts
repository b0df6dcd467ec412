import { plainToInstance } from 'class-transformer';
import { IsOptional, validate } from 'class-validator';
import { BODY_VALIDATION } from './api-validation.pipe';
import { invalidFields, validationDetails } from '../pipelines/invalid-input.error';
import { intInRangeMessage, IsId, IsIntInRange, isIntInRange, MAX_ID } from './is-int-in-range.decorator';

class Body {
  @IsOptional()
  @IsId()
  image_id?: unknown;

  @IsOptional()
  @IsIntInRange(1, 20)
  attempts?: unknown;
}

async function detailsOf(plain: Record<string, unknown>) {
  return validationDetails(await validate(plainToInstance(Body, plain), BODY_VALIDATION));
}

describe('IsIntInRange / IsId', () => {
  it.each([1, 7, MAX_ID])('accepts the id %p', async (id) => {
    expect(await detailsOf({ image_id: id })).toEqual([]);
  });

  it.each(['1', 'abc', '', 1.5, true, {}, [1]])('answers %p, which is not an integer, with exactly one message', async (value) => {
    expect(await detailsOf({ image_id: value })).toEqual([{ field: 'image_id', message: 'image_id must be an integer' }]);
  });

  it.each([0, -1, MAX_ID + 1, 99_999_999_999, 1e300])(
    'answers the integer %p, out of range, with one message naming the range',
    async (id) => {
      expect(await detailsOf({ image_id: id })).toEqual([
        { field: 'image_id', message: `image_id must be an integer from 1 to ${MAX_ID}` },
      ]);
    },
  );

  it('names its own range', async () => {
    expect(await detailsOf({ attempts: 21 })).toEqual([{ field: 'attempts', message: 'attempts must be an integer from 1 to 20' }]);
    expect(await detailsOf({ attempts: 20 })).toEqual([]);
    expect(await detailsOf({ attempts: '3' })).toEqual([{ field: 'attempts', message: 'attempts must be an integer' }]);
  });

  it('gives one message per field when several are wrong, and the error reads as their fields', async () => {
    const details = await detailsOf({ image_id: '1', attempts: 0 });
    expect(details).toEqual([
      { field: 'image_id', message: 'image_id must be an integer' },
      { field: 'attempts', message: 'attempts must be an integer from 1 to 20' },
    ]);
    expect(invalidFields(details).message).toBe('Invalid values for image_id, attempts');
  });

  it('leaves an absent optional field alone', async () => {
    expect(await detailsOf({})).toEqual([]);
  });

  it('checks and words values the same outside a DTO', () => {
    expect(isIntInRange(5, 1, 10)).toBe(true);
    expect(isIntInRange('5', 1, 10)).toBe(false);
    expect(isIntInRange(Number.NaN, 1, 10)).toBe(false);
    expect(isIntInRange(Infinity, 1, 10)).toBe(false);
    expect(intInRangeMessage('k', '5', 1, 10)).toBe('k must be an integer');
    expect(intInRangeMessage('k', 11, 1, 10)).toBe('k must be an integer from 1 to 10');
  });
});
