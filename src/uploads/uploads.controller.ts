import { Controller, Delete, Head, Options, Param, Patch, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { IdempotencyKeyIgnored } from '../idempotency/idempotency-key-ignored.decorator';
import { RateLimit } from '../rate-limits/rate-limit.decorator';
import { UploadsService } from './uploads.service';

/** Why tus's requests ignore the Idempotency-Key header. */
const TUS_RETRIES =
  'tus resumes by offsets: HEAD says where an upload stands, and a repeated final PATCH answers the image it made; a body streamed past is never kept to replay';

const TUS_RESUMABLE = { name: 'Tus-Resumable', required: true, description: 'The tus version: `1.0.0`.' };

/**
 * The tus 1.0 protocol (creation, termination, expiration), served by @tus/server once the request
 * is authenticated as any other, and, naming an upload, found to be the caller's.
 * docs/api.md, "Resumable uploads", shows a client's requests.
 */
@ApiTags('uploads')
@ApiBearerAuth()
@Controller('api/uploads')
export class UploadsController {
  constructor(private readonly uploads: UploadsService) {}

  @Post()
  @RateLimit('uploads')
  @IdempotencyKeyIgnored(TUS_RETRIES)
  @ApiOperation({
    summary: 'Create a resumable upload (tus): answers 201 with its URL in `Location`',
    description:
      '`Upload-Length` is required (at most MAX_UPLOAD_BYTES, and within your storage quota). `Upload-Metadata` (tus: keys with ' +
      'base64 values) carries what a multipart upload’s form does: `filename`, `image_type`, `presets`, and a job on the image ' +
      '(`job_type`, a JSON list or comma-separated; `params`, a JSON object). It expires after UPLOAD_EXPIRY.',
  })
  @ApiHeader(TUS_RESUMABLE)
  @ApiHeader({ name: 'Upload-Length', required: true, description: 'The file’s size in bytes.' })
  @ApiHeader({ name: 'Upload-Metadata', required: false, description: 'Comma-separated `key base64(value)` pairs.' })
  @ApiResponse({ status: 201, description: 'Created; `Location` is the upload’s URL.' })
  @ApiErrorResponses(401, 413, 422)
  async create(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.uploads.handle(request, response);
  }

  @Head(':id')
  @ApiOperation({ summary: "An upload's offset (`Upload-Offset`): where to resume" })
  @ApiHeader(TUS_RESUMABLE)
  @ApiResponse({ status: 200, description: '`Upload-Offset` and `Upload-Length`.' })
  @ApiErrorResponses(401, 404, 410)
  async offset(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    await this.uploads.assertAccess(principal, id);
    await this.uploads.handle(request, response);
  }

  @Patch(':id')
  @IdempotencyKeyIgnored(TUS_RETRIES)
  @ApiOperation({
    summary: 'Send bytes from `Upload-Offset` on (`Content-Type: application/offset+octet-stream`)',
    description:
      '204 with the new `Upload-Offset`; the last byte makes the image (and its job) and answers 200 with them as JSON ' +
      '(`{"image": …, "job": …}`) and the image’s URL in `Location`. Repeated, the final PATCH answers the same image.',
  })
  @ApiHeader(TUS_RESUMABLE)
  @ApiHeader({ name: 'Upload-Offset', required: true, description: 'The offset HEAD answered.' })
  @ApiResponse({ status: 204, description: 'Bytes received; `Upload-Offset` is the new offset.' })
  @ApiResponse({ status: 200, description: 'The upload is complete: the image made of it, and its job.' })
  @ApiErrorResponses(401, 404, 409, 410, 413, 415, 422)
  async append(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    await this.uploads.assertAccess(principal, id);
    await this.uploads.handle(request, response);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Abandon an upload: its bytes are deleted (tus termination)' })
  @ApiHeader(TUS_RESUMABLE)
  @ApiResponse({ status: 204, description: 'Deleted.' })
  @ApiErrorResponses(401, 404)
  async terminate(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    await this.uploads.assertAccess(principal, id);
    await this.uploads.handle(request, response);
  }

  @Options()
  @ApiOperation({ summary: "The server's tus version, extensions and largest upload (`Tus-Max-Size`)" })
  @ApiResponse({ status: 204, description: '`Tus-Version`, `Tus-Extension`, `Tus-Max-Size`.' })
  @ApiErrorResponses(401)
  async capabilities(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.uploads.handle(request, response);
  }
}
