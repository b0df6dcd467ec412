import { applyDecorators, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import type { Request } from 'express';
import { parseSelection, SELECTION_DESCRIPTIONS, SelectionKey } from '../../pipelines/selection';

/** Injects the parsed selection of an index route's query string. */
export const SelectionQuery = createParamDecorator((allowed: readonly SelectionKey[], context: ExecutionContext) =>
  parseSelection(context.switchToHttp().getRequest<Request>().query, allowed),
);

/** Documents the selection parameters an index route accepts. */
export function ApiSelectionQuery(allowed: readonly SelectionKey[]): MethodDecorator {
  return applyDecorators(
    ...allowed.map((key) => ApiQuery({ name: key, required: false, type: String, description: SELECTION_DESCRIPTIONS[key] })),
  );
}
