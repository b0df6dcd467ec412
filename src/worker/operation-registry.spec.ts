import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationRegistry, operationRegistry } from './operation-registry';
import { BlurParams } from './operations/blur.operation';

const ALL_OPERATIONS = [
  'blur', 'convert', 'edges', 'equalize', 'flip', 'flop', 'grayscale', 'histogram',
  'invert', 'resize', 'rotate', 'sharpen', 'thumbnail', 'threshold',
].sort();

describe('OperationRegistry', () => {
  describe('discovery', () => {
    it('finds every operation file beside it', () => {
      expect(operationRegistry.names()).toEqual(ALL_OPERATIONS);
      for (const name of ALL_OPERATIONS) expect(operationRegistry.get(name)?.name).toBe(name);
      expect(operationRegistry.get('sepia')).toBeUndefined();
    });

    it('describes each operation and the parameters it takes', () => {
      const descriptions = operationRegistry.describe();
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

    describe('in a folder of its own', () => {
      let folder: string;
      const operationFile = (file: string, name: string) =>
        writeFileSync(
          join(folder, file),
          `exports.operation = { name: ${JSON.stringify(name)}, description: 'test', run: async () => ({}) };\n`,
        );

      beforeEach(() => {
        folder = mkdtempSync(join(tmpdir(), 'operations-'));
      });
      afterEach(() => rmSync(folder, { recursive: true, force: true }));

      it('takes only *.operation files', () => {
        operationFile('first.operation.js', 'first');
        operationFile('helper.js', 'helper');
        operationFile('first.operation.spec.js', 'spec');
        expect(new OperationRegistry(folder).names()).toEqual(['first']);
      });

      it('refuses two operations of the same name, naming both files', () => {
        operationFile('one.operation.js', 'twin');
        operationFile('two.operation.js', 'twin');
        expect(() => new OperationRegistry(folder)).toThrow(/"twin".*one\.operation\.js.*two\.operation\.js/);
      });

      it('refuses an operation named against the pattern', () => {
        operationFile('shouty.operation.js', 'Shouty');
        expect(() => new OperationRegistry(folder)).toThrow(/shouty\.operation\.js/);
      });

      it('refuses an operation file that exports no operation', () => {
        writeFileSync(join(folder, 'empty.operation.js'), 'exports.nothing = 1;\n');
        expect(() => new OperationRegistry(folder)).toThrow(/empty\.operation\.js/);
      });
    });
  });

  describe('validateParams', () => {
    it('reports bad parameters under params.<operation>.<property>', () => {
      const { errors } = operationRegistry.validateParams('rotate', { angle: 'left' });
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every(({ field }) => field === 'params.rotate.angle')).toBe(true);
    });

    it('rejects unknown properties', () => {
      const { errors } = operationRegistry.validateParams('resize', { width: 10, colour: 'red' });
      expect(errors).toEqual([{ field: 'params.resize.colour', message: 'property colour should not exist' }]);
    });

    it('returns the parameters as an instance of the params class', () => {
      const { params, errors } = operationRegistry.validateParams('blur', { sigma: 3 });
      expect(errors).toEqual([]);
      expect(params).toBeInstanceOf(BlurParams);
      expect((params as BlurParams).sigma).toBe(3);
    });

    it('treats absent parameters as none', () => {
      expect(operationRegistry.validateParams('flip', undefined)).toEqual({ params: {}, errors: [] });
      expect(operationRegistry.validateParams('flip', {})).toEqual({ params: {}, errors: [] });
      const { errors } = operationRegistry.validateParams('rotate', undefined);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every(({ field }) => field === 'params.rotate.angle')).toBe(true);
    });

    it('refuses parameters for an operation that takes none', () => {
      expect(operationRegistry.validateParams('flip', { axis: 'x' }).errors).toEqual([
        { field: 'params.flip', message: 'flip takes no parameters' },
      ]);
    });

    it.each([null, 'wide', 3, ['width']])('refuses %j as parameters', (raw) => {
      expect(operationRegistry.validateParams('resize', raw).errors).toEqual([
        { field: 'params.resize', message: 'params.resize must be an object' },
      ]);
    });

    it('refuses an unknown operation', () => {
      expect(operationRegistry.validateParams('sepia', {}).errors).toEqual([
        { field: 'params.sepia', message: 'sepia is not an operation' },
      ]);
    });
  });
});
