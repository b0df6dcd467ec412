import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiResponse, getSchemaPath } from '@nestjs/swagger';

export class ErrorDetailDto {
  @ApiProperty({ example: 'email' }) field: string;
  @ApiProperty({ example: 'email must be an email address' }) message: string;
}

export class ErrorResponseDto {
  @ApiProperty() error: string;
  @ApiProperty({ type: [ErrorDetailDto] }) details: ErrorDetailDto[];
}

const RESPONSES = {
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
  410: {
    description:
      'No longer kept: a sync cursor older than the deletions kept, or a resumable upload past UPLOAD_EXPIRY; the message says how to start over.',
    example: { error: 'This sync cursor is older than the deletions kept (SYNC_TOMBSTONE_DAYS); sync again without since', details: [] },
  },
  413: {
    description: 'The body or file is larger than the limit.',
    example: { error: 'The file is larger than the 52428800-byte limit', details: [] },
  },
  415: {
    description: 'Not an image in an accepted format (JPEG, PNG, WebP, GIF, TIFF, AVIF).',
    example: { error: 'The file is not an image in an accepted format (jpeg, png, webp, gif, tiff, avif)', details: [] },
  },
  416: {
    description: 'The `Range` asks for no byte of the file; `Content-Range: bytes */<size>` gives its size.',
    example: {
      error: 'Range bytes=90000- asks for no byte of the file, whose bytes are 0 to 74521',
      details: [{ field: 'Range', message: 'Range bytes=90000- asks for no byte of the file, whose bytes are 0 to 74521' }],
    },
  },
  422: {
    description: 'Invalid, missing, unknown or duplicate fields; `details` names each.',
    example: {
      error: 'email must be an email address',
      details: [{ field: 'email', message: 'email must be an email address' }],
    },
  },
  503: {
    description: 'A service the request needs (the job queue) is unavailable; try again.',
    example: { error: 'The job queue is unavailable; try again shortly', details: [] },
  },
} satisfies Record<number, { description: string; example: ErrorResponseDto }>;

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
