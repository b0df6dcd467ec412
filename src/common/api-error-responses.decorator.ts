import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiResponse, getSchemaPath } from '@nestjs/swagger';

class ErrorDetailDto {
  @ApiProperty({ example: 'email' }) field: string;
  @ApiProperty({ example: 'email must be an email address' }) message: string;
}

export class ErrorResponseDto {
  @ApiProperty() error: string;
  @ApiProperty({ type: [ErrorDetailDto] }) details: ErrorDetailDto[];
}

const RESPONSES: Record<number, { description: string; example: ErrorResponseDto }> = {
  400: {
    description: 'Malformed JSON body.',
    example: { error: "Expected ',' or '}' after property value in JSON at position 17", details: [] },
  },
  401: {
    description: 'Missing or invalid bearer token.',
    example: { error: 'Invalid bearer token', details: [] },
  },
  403: {
    description: 'Not allowed for this caller.',
    example: { error: 'Only an admin may create image types', details: [] },
  },
  404: {
    description: 'No such record, or not yours.',
    example: { error: 'No image with id 7', details: [] },
  },
  409: {
    description: 'The record is still used elsewhere, or in a state that forbids this.',
    example: { error: 'Job 7 is running; only a queued job can be changed', details: [] },
  },
  422: {
    description: 'Invalid, missing, unknown or duplicate fields; `details` names each.',
    example: {
      error: 'email must be an email address',
      details: [{ field: 'email', message: 'email must be an email address' }],
    },
  },
};

/** Documents the JSON error responses a route can give, each with a typical example. */
export function ApiErrorResponses(...statuses: (keyof typeof RESPONSES)[]): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(ErrorResponseDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: RESPONSES[status].description,
        content: {
          'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) }, example: RESPONSES[status].example },
        },
      }),
    ),
  );
}
