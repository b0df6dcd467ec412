import { InvalidInputError } from './invalid-input.error';
import { parseEnvironment } from './job-environment';

const refusal = (input: string) => {
  try {
    parseEnvironment(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as InvalidInputError).message;
  }
  throw new Error(`${input} was accepted`);
};

describe('parseEnvironment', () => {
  it("reads the seed's string", () => {
    expect(parseEnvironment(`QUERY='n=all&days=today&image_type=histogram' USER=123 TARGET=456 K=10`)).toEqual({
      QUERY: 'n=all&days=today&image_type=histogram',
      USER: '123',
      TARGET: '456',
      K: '10',
    });
  });

  it('takes double quotes, bare values, extra spaces and the empty string', () => {
    expect(parseEnvironment(`  QUERY="n=5"   K=3 `)).toEqual({ QUERY: 'n=5', K: '3' });
    expect(parseEnvironment('TARGET_S3_HIST=outputs/2026/11/23/abc.png')).toEqual({ TARGET_S3_HIST: 'outputs/2026/11/23/abc.png' });
    expect(parseEnvironment('')).toEqual({});
  });

  it('keeps a quoted value as data, however hostile', () => {
    expect(parseEnvironment(`QUERY='$(rm -rf /)'`)).toEqual({ QUERY: '$(rm -rf /)' });
  });

  it.each([
    [`QUERY=$(rm -rf /)`, /QUERY is missing or holds characters that need quotes/],
    [`QUERY='n=all`, /opens a single quote that is never closed/],
    [`QUERY="n=all`, /opens a double quote that is never closed/],
    [`PATH=/bin`, /PATH is not a known key/],
    [`K=1 K=2`, /K is given more than once/],
    [`K=1;reboot`, /Expected a space after the value of K/],
    [`K`, /Expected KEY=value at character 1/],
    [`k=1`, /Expected KEY=value/],
    [`QUERY='a'b`, /Expected a space after the value of QUERY/],
    ['K=`id`', /K is missing or holds characters that need quotes/],
  ])('refuses %s', (input, message) => {
    expect(refusal(input)).toMatch(message);
  });
});
