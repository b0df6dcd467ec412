import { OperationCatalog, operationCatalog } from './operation-catalog';
import { BlurParams } from './operation-params';

const ALL_OPERATIONS = [
  'blur',
  'convert',
  'edges',
  'equalize',
  'flip',
  'flop',
  'grayscale',
  'histogram',
  'invert',
  'resize',
  'rotate',
  'sharpen',
  'thumbnail',
  'threshold',
].sort();

describe('OperationCatalog', () => {
  it('names every operation', () => {
    expect(operationCatalog.names()).toEqual(ALL_OPERATIONS);
    for (const name of ALL_OPERATIONS) expect(operationCatalog.has(name)).toBe(true);
    expect(operationCatalog.has('sepia')).toBe(false);
  });

  it('describes each operation and the parameters it takes', () => {
    const descriptions = operationCatalog.describe();
    expect(descriptions.map(({ name }) => name)).toEqual(ALL_OPERATIONS);
    expect(descriptions.every(({ description }) => description.length > 0 && !description.includes('\n'))).toBe(true);
    const paramsOf = Object.fromEntries(descriptions.map(({ name, params }) => [name, params]));
    expect(paramsOf).toMatchObject({
      resize: ['width', 'height', 'fit'],
      rotate: ['angle'],
      blur: ['sigma'],
      convert: ['format', 'quality'],
      threshold: ['level'],
      flip: [],
      grayscale: [],
    });
  });

  it('gives each operation the version of its output, 1 unless raised, and 0 for a name it does not hold', () => {
    expect(operationCatalog.versionOf('grayscale')).toBe(1);
    expect(new OperationCatalog([{ name: 'tuned', description: 'test', version: 3 }]).versionOf('tuned')).toBe(3);
    expect(operationCatalog.versionOf('sepia')).toBe(0);
  });

  it('refuses two entries of the same name', () => {
    const entry = { name: 'twin', description: 'test', version: 1 };
    expect(() => new OperationCatalog([entry, { ...entry }])).toThrow(/"twin" is in the catalogue twice/);
  });

  it('refuses a name against the pattern', () => {
    expect(() => new OperationCatalog([{ name: 'Shouty', description: 'test', version: 1 }])).toThrow(/"Shouty"/);
    expect(() => new OperationCatalog([{ name: '2nd', description: 'test', version: 1 }])).toThrow(/"2nd"/);
  });

  describe('validateParams', () => {
    it('reports bad parameters under params.<operation>.<property>', () => {
      const { errors } = operationCatalog.validateParams('rotate', { angle: 'left' });
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every(({ field }) => field === 'params.rotate.angle')).toBe(true);
    });

    it('rejects unknown properties', () => {
      const { errors } = operationCatalog.validateParams('resize', { width: 10, colour: 'red' });
      expect(errors).toEqual([{ field: 'params.resize.colour', message: 'property colour should not exist' }]);
    });

    it('returns the parameters as an instance of the params class', () => {
      const { params, errors } = operationCatalog.validateParams('blur', { sigma: 3 });
      expect(errors).toEqual([]);
      expect(params).toBeInstanceOf(BlurParams);
      expect((params as BlurParams).sigma).toBe(3);
    });

    it('treats absent parameters as none', () => {
      expect(operationCatalog.validateParams('flip', undefined)).toEqual({ params: {}, errors: [] });
      expect(operationCatalog.validateParams('flip', {})).toEqual({ params: {}, errors: [] });
      const { errors } = operationCatalog.validateParams('rotate', undefined);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every(({ field }) => field === 'params.rotate.angle')).toBe(true);
    });

    it('refuses parameters for an operation that takes none', () => {
      expect(operationCatalog.validateParams('flip', { axis: 'x' }).errors).toEqual([
        { field: 'params.flip', message: 'flip takes no parameters' },
      ]);
    });

    it.each([null, 'wide', 3, ['width']])('refuses %j as parameters', (raw) => {
      expect(operationCatalog.validateParams('resize', raw).errors).toEqual([
        { field: 'params.resize', message: 'params.resize must be an object' },
      ]);
    });

    it('refuses an unknown operation', () => {
      expect(operationCatalog.validateParams('sepia', {}).errors).toEqual([
        { field: 'params.sepia', message: 'sepia is not an operation' },
      ]);
    });
  });
});
