import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationCatalog, operationCatalog } from '../pipelines/operation-catalog';
import { OperationRegistry, operationRegistry } from './operation-registry';

describe('OperationRegistry', () => {
  it('implements every operation of the catalogue, from the files beside it', () => {
    expect(operationRegistry.names()).toEqual(operationCatalog.names());
    for (const name of operationCatalog.names()) expect(operationRegistry.get(name)?.name).toBe(name);
    expect(operationRegistry.get('sepia')).toBeUndefined();
  });

  describe('in a folder of its own', () => {
    let folder: string;
    const catalog = (...names: string[]) => new OperationCatalog(names.map((name) => ({ name, description: 'test', version: 1 })));
    const operationFile = (file: string, name: string) =>
      writeFileSync(join(folder, file), `exports.operation = { name: ${JSON.stringify(name)}, run: async () => ({}) };\n`);

    beforeEach(() => {
      folder = mkdtempSync(join(tmpdir(), 'operations-'));
    });
    afterEach(() => rmSync(folder, { recursive: true, force: true }));

    it('takes only *.operation files', () => {
      operationFile('first.operation.js', 'first');
      operationFile('helper.js', 'helper');
      operationFile('first.operation.spec.js', 'spec');
      expect(new OperationRegistry(folder, catalog('first')).names()).toEqual(['first']);
    });

    it('refuses two implementations of the same operation, naming both files', () => {
      operationFile('one.operation.js', 'twin');
      operationFile('two.operation.js', 'twin');
      expect(() => new OperationRegistry(folder, catalog('twin'))).toThrow(/"twin".*one\.operation\.js.*two\.operation\.js/);
    });

    it('refuses an implementation of an operation the catalogue does not have, naming its file', () => {
      operationFile('first.operation.js', 'first');
      operationFile('sepia.operation.js', 'sepia');
      expect(() => new OperationRegistry(folder, catalog('first'))).toThrow(
        /sepia\.operation\.js implements "sepia", which is not in the operation catalogue/,
      );
    });

    it('refuses a catalogue entry that no file implements, naming it', () => {
      operationFile('first.operation.js', 'first');
      expect(() => new OperationRegistry(folder, catalog('first', 'second', 'third'))).toThrow(
        /implements the catalogue's operations "second", "third"/,
      );
    });

    it('refuses an operation file that exports no operation', () => {
      writeFileSync(join(folder, 'empty.operation.js'), 'exports.nothing = 1;\n');
      expect(() => new OperationRegistry(folder, catalog())).toThrow(/empty\.operation\.js/);
    });
  });
});
