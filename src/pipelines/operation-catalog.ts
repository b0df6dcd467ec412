import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync } from 'class-validator';
import { type ErrorDetail, validationDetails } from './invalid-input.error';
import {
  BLUR_DEFAULT_SIGMA,
  BlurParams,
  CONVERT_FORMATS,
  ConvertParams,
  RESIZE_DEFAULT_FIT,
  RESIZE_FITS,
  RESIZE_MAX_SIDE,
  ResizeParams,
  RotateParams,
  SharpenParams,
  ThresholdParams,
  THUMBNAIL_SIDE,
} from './operation-params';

const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/** The parameters of an operation that takes none. */
export type NoParams = Record<string, never>;

/** What a `process` step promises: its name, one line for users, and the DTO class of its parameters (absent: it takes none). */
export interface OperationContract<N extends string = string, P extends object = object> {
  name: N;
  description: string;
  params?: new () => P;
  /**
   * Raised whenever the operation's output for the same input and params changes (a fix, a new
   * encoder setting): outputs made by an older version are then never reused for new steps. Kept
   * here rather than beside the implementation because the API reuses earlier work too, when it
   * creates a job whose every step was done before, and it never loads the worker's code.
   */
  version: number;
}

function contract<N extends string, P extends object = NoParams>(
  name: N,
  description: string,
  params?: new () => P,
  { version = 1 } = {},
): OperationContract<N, P> {
  return { name, description, params, version };
}

/** Every operation of the `process` pipelines. The worker implements each in src/worker/operations/<name>.operation.ts. */
const CONTRACTS = [
  contract('blur', `Gaussian blur of sigma pixels (0.3 to 1000, default ${BLUR_DEFAULT_SIGMA}); PNG.`, BlurParams),
  contract('convert', `Re-encodes as format (${CONVERT_FORMATS.join('|')}); quality (1 to 100) applies to the lossy ones.`, ConvertParams),
  contract('edges', 'Sobel edge strength of the grayscale image, stretched to 0-255; single-channel PNG.'),
  contract('equalize', 'Histogram equalisation of the grayscale image, spreading its grey levels over 0-255; single-channel PNG.'),
  contract('flip', 'Mirrors top to bottom; PNG.'),
  contract('flop', 'Mirrors left to right; PNG.'),
  contract('grayscale', "Converts to 8-bit grey with scikit-image's rgb2gray weights (0.2125 R + 0.7154 G + 0.0721 B); PNG."),
  contract('histogram', 'Counts the 256 grey levels of the grayscale image and draws them as a PNG bar chart.'),
  contract('invert', 'Negates the colours, leaving transparency as it is; PNG.'),
  contract(
    'resize',
    `Resizes to a width and/or height (up to ${RESIZE_MAX_SIDE} px); fit is ${RESIZE_FITS.join('|')}, default ${RESIZE_DEFAULT_FIT}; PNG.`,
    ResizeParams,
  ),
  contract(
    'rotate',
    'Rotates clockwise by angle degrees (-360 to 360); other than right angles, the corners are transparent; PNG.',
    RotateParams,
  ),
  contract(
    'sharpen',
    'Unsharp mask of the lightness; sigma (0.000001 to 10) sets its radius, else a quick mild sharpen; PNG.',
    SharpenParams,
  ),
  contract('threshold', "Grey levels above level (0 to 255; default Otsu's threshold) become white, the rest black; PNG.", ThresholdParams),
  contract('thumbnail', `Shrinks to fit within ${THUMBNAIL_SIDE}×${THUMBNAIL_SIDE}; JPEG, or PNG when the image has transparency.`),
];

type Contract = (typeof CONTRACTS)[number];
export type OperationName = Contract['name'];
/** Each operation's parameters as its implementation receives them, by operation name. */
export type OperationParams = { [C in Contract as C['name']]: C extends OperationContract<string, infer P> ? P : never };

export interface OperationDescription {
  name: string;
  description: string;
  params: string[];
}

export interface ParamsValidation {
  params: object;
  errors: ErrorDetail[];
}

/** The operations a job may name, what each says it does, and the checking of its parameters. */
export class OperationCatalog {
  private readonly contracts = new Map<string, OperationContract>();

  constructor(contracts: readonly OperationContract[]) {
    for (const entry of contracts) {
      if (!NAME_PATTERN.test(entry.name)) throw new Error(`Operation name "${entry.name}" does not match ${NAME_PATTERN}`);
      if (this.contracts.has(entry.name)) throw new Error(`Operation "${entry.name}" is in the catalogue twice`);
      this.contracts.set(entry.name, entry);
    }
  }

  names(): string[] {
    return [...this.contracts.keys()].sort();
  }

  has(name: string): boolean {
    return this.contracts.has(name);
  }

  /** The version of the operation's output (OperationContract.version); 0 for a name not in the catalogue, which no output has. */
  versionOf(name: string): number {
    return this.contracts.get(name)?.version ?? 0;
  }

  describe(): OperationDescription[] {
    return this.names().map((name) => {
      const { description, params } = this.contracts.get(name)!;
      return { name, description, params: params ? paramNames(params) : [] };
    });
  }

  /** Checks a step's parameters as given in a job; `params` is the DTO instance to hand to the operation. */
  validateParams(name: string, raw: unknown): ParamsValidation {
    const field = `params.${name}`;
    const entry = this.contracts.get(name);
    if (!entry) return invalid(field, `${name} is not an operation`);
    const given = raw === undefined ? {} : raw;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      return invalid(field, `${field} must be an object`);
    }
    if (!entry.params) {
      return Object.keys(given).length > 0 ? invalid(field, `${name} takes no parameters`) : { params: {}, errors: [] };
    }
    const params = plainToInstance(entry.params, given);
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

export const operationCatalog = new OperationCatalog(CONTRACTS);
