import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { ApiErrorResponses, ErrorResponseDto } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { DerivativesService } from './derivatives.service';
import { ImageFilesService } from '../images/image-files.service';
import { CLAIMED_ELSEWHERE, DerivativeBody, sendDerivative } from './derivative-response';
import { DerivativePendingDto } from './dto/derivative-pending.dto';

const errorContent = (error: string) => ({
  'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) }, example: { error, details: [] } },
});

@ApiTags('images')
@ApiBearerAuth()
@ApiExtraModels(ErrorResponseDto, DerivativePendingDto)
@Controller('api/images')
export class DerivativesController {
  constructor(
    private readonly derivatives: DerivativesService,
    private readonly files: ImageFilesService,
  ) {}

  @Get(':id/derivatives/:preset')
  @ApiOperation({
    summary: 'A preset applied to one of your images: its file, made on the first request',
    description:
      'With a bearer token (a session’s); the dashboard’s cookie is never read on /api. The first request for an image and preset creates an interactive process job with the preset’s steps (counted in your ' +
      'jobs in progress; its output images are outputs of the image, counted in your storage) and waits up to DERIVATIVE_WAIT ' +
      '(10 s) for it: the file, or 202 with the job’s URL (Location) and Retry-After. Later requests, and concurrent ones, ' +
      'share that job and get its file. A preset whose convert step has `format: "auto"` answers AVIF, WebP or JPEG as the ' +
      'Accept header allows (`Vary: Accept`). A changed preset makes its derivatives anew. ETag is the file’s sha256; ' +
      'If-None-Match with it answers 304; a single byte Range answers 206 (416 past the end).',
  })
  @ApiParam({ name: 'preset', example: 'thumb_256', description: 'A preset’s name (GET /api/presets.json)' })
  @ApiProduces('image/webp', 'image/avif', 'image/jpeg', 'image/png')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' }, description: 'The derivative’s file.' })
  @ApiAcceptedResponse({
    description: 'Not made within DERIVATIVE_WAIT: ask again after Retry-After seconds, or follow the job (Location).',
    headers: {
      'Retry-After': { description: 'Seconds before asking again', schema: { type: 'integer' } },
      Location: { description: 'The job making the derivative', schema: { type: 'string' } },
    },
    content: { 'application/json': { schema: { $ref: getSchemaPath(DerivativePendingDto) } } },
  })
  @ApiResponse({ status: 206, description: 'The bytes of the one range asked for, with `Content-Range`.' })
  @ApiResponse({ status: 304, description: 'If-None-Match named the file’s ETag.' })
  @ApiErrorResponses(401, 404, 409, 413, 416, 422)
  @ApiResponse({
    status: 429,
    description: 'Your jobs in progress are at their quota: the derivative’s job could not be created.',
    content: errorContent('Too many jobs in progress: 1000 of 1000 queued or running; wait for some to finish'),
  })
  @ApiResponse({
    status: 502,
    description: 'The derivative’s job failed for a reason other than its input or your quotas; the next request makes it anew.',
    content: errorContent('Job 7, making this derivative, failed: timed out after 300 s; request it again to make it anew'),
  })
  @ApiResponse({
    status: 503,
    description: 'Another request was creating the derivative’s job and had not recorded it within DERIVATIVE_WAIT; ask again.',
    content: errorContent(CLAIMED_ELSEWHERE),
  })
  derivative(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Param('preset') preset: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DerivativeBody> {
    return this.derivatives
      .serve(principal, id, preset, request.headers.accept)
      .then((answer) => sendDerivative(answer, `${id}-${preset}`, request, response, this.files, 'private, no-cache'));
  }
}
