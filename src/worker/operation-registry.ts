import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync } from 'class-validator';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validationDetails, type ErrorDetail } from '../common/invalid-input.error';
import type { Operation } from './operations/operation';

/** Compiled to .js in dist/, run as .ts under ts-jest; specs and declaration files don't match. */
const OPERATION_FILE = /\.operation\.(js|ts)$/;
const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

export interface OperationDescription {
  name: string;
  description: string;
  params: string[];
}

export interface ParamsValidation {
  params: object;
  errors: ErrorDetail[];
}

/**
 * Every operation of the `process` pipelines, found by file name so that adding one is adding its file.
 * `folder` is for tests; the operations live in `operations/` beside this file.
 */
export class OperationRegistry {
  private readonly operations = new Map<string, { operation: Operation; file: string }>();

  constructor(folder = join(__dirname, 'operations')) {
    for (const file of readdirSync(folder).filter((name) => OPERATION_FILE.test(name)).sort()) {
      const { operation } = require(join(folder, file)) as { operation?: Operation };
      if (!operation || !NAME_PATTERN.test(operation.name)) {
        throw new Error(`${file} must export an operation whose name matches ${NAME_PATTERN}`);
      }
      const existing = this.operations.get(operation.name);
      if (existing) {
        throw new Error(`Operation "${operation.name}" is defined twice: in ${existing.file} and in ${file}`);
      }
      this.operations.set(operation.name, { operation, file });
    }
  }

  get(name: string): Operation | undefined {
    return this.operations.get(name)?.operation;
  }

  names(): string[] {
    return [...this.operations.keys()].sort();
  }

  describe(): OperationDescription[] {
    return this.names().map((name) => {
      const { description, params } = this.operations.get(name)!.operation;
      return { name, description, params: params ? paramNames(params) : [] };
    });
  }

  /** Checks a step's parameters as given in a job; `params` is the DTO instance to hand to `run`. */
  validateParams(name: string, raw: unknown): ParamsValidation {
    const field = `params.${name}`;
    const operation = this.get(name);
    if (!operation) return invalid(field, `${name} is not an operation`);
    const given = raw === undefined ? {} : raw;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      return invalid(field, `${field} must be an object`);
    }
    if (!operation.params) {
      return Object.keys(given).length > 0 ? invalid(field, `${name} takes no parameters`) : { params: {}, errors: [] };
    }
    const params = plainToInstance(operation.params, given);
    const errors = validateSync(params, { whitelist: true, forbidNonWhitelisted: true });
    return { params, errors: validationDetails(errors, field) };
  }
}

function invalid(field: string, message: string): ParamsValidation {
  return { params: {}, errors: [{ field, message }] };
}

/** The properties a params class accepts: the validated ones, since validation rejects all others. */
function paramNames(params: new () => object): string[] {
  const rules = getMetadataStorage().getTargetValidationMetadatas(params, '', false, false);
  return [...new Set(rules.map((rule) => rule.propertyName))];
}

export const operationRegistry = new OperationRegistry();
