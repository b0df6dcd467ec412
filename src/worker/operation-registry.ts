import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OperationCatalog, operationCatalog } from '../pipelines/operation-catalog';
import type { Operation } from './operations/operation';

/** Compiled to .js in dist/, run as .ts under ts-jest; specs and declaration files don't match. */
const OPERATION_FILE = /\.operation\.(js|ts)$/;

/**
 * The implementation of every operation in the catalogue, found by file name so that adding one
 * is adding its catalogue entry and its file. The worker refuses to start unless the two agree.
 * `folder` and `catalog` are for tests; the operations live in `operations/` beside this file.
 */
export class OperationRegistry {
  private readonly operations = new Map<string, { operation: Operation; file: string }>();

  constructor(folder = join(__dirname, 'operations'), catalog: OperationCatalog = operationCatalog) {
    for (const file of readdirSync(folder)
      .filter((name) => OPERATION_FILE.test(name))
      .sort()) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- operations are found on disk at start-up, so each is loaded by its path
      const { operation } = require(join(folder, file)) as { operation?: Operation };
      if (typeof operation?.name !== 'string' || typeof operation.run !== 'function') {
        throw new Error(`${file} must export an operation made by defineOperation(name, run)`);
      }
      if (!catalog.has(operation.name)) {
        throw new Error(
          `${file} implements "${operation.name}", which is not in the operation catalogue (src/pipelines/operation-catalog.ts)`,
        );
      }
      const existing = this.operations.get(operation.name);
      if (existing) {
        throw new Error(`Operation "${operation.name}" is implemented twice: in ${existing.file} and in ${file}`);
      }
      this.operations.set(operation.name, { operation, file });
    }
    const missing = catalog.names().filter((name) => !this.operations.has(name));
    if (missing.length > 0) {
      throw new Error(
        `No file in ${folder} implements the catalogue's operation${missing.length > 1 ? 's' : ''} ${missing.map((name) => `"${name}"`).join(', ')}`,
      );
    }
  }

  get(name: string): Operation | undefined {
    return this.operations.get(name)?.operation;
  }

  names(): string[] {
    return [...this.operations.keys()].sort();
  }
}

export const operationRegistry = new OperationRegistry();
