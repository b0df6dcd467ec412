import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

class ErrorDetailDto {
  @ApiProperty({ example: 'email' }) field: string;
  @ApiProperty({ example: 'email must be an email address' }) message: string;
}

export class ErrorResponseDto {
  @ApiProperty({ example: 'email must be an email address' }) error: string;
  @ApiProperty({ type: [ErrorDetailDto] }) details: ErrorDetailDto[];
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON body.',
  401: 'Missing or invalid bearer token.',
  403: 'Not allowed for this caller.',
  404: 'No such record, or not yours.',
  409: 'The record is still referenced or in a state that forbids this.',
  413: 'Body too large.',
  422: 'Invalid, missing, unknown or duplicate fields; `details` names each.',
};

/** Documents the JSON error responses a route can give. */
export function ApiErrorResponses(...statuses: number[]): MethodDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorResponseDto })),
  );
}
