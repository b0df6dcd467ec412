import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { DerivativeBody, sendDerivative } from '../derivatives/derivative-response';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { Public } from '../identity/public.decorator';
import { ImageFilesService } from '../images/image-files.service';
import { CreateSignedUrlDto, CreateStepsSignedUrlDto, SignedUrlResponseDto } from './dto/signed-url.dto';
import { isFreeForm } from './free-form-steps';
import { IssuedUrl, SignedUrlsService } from './signed-urls.service';

/** A year, and never revalidated: what a signed URL answers cannot change under it (docs/derivatives.md says when it can). */
const PUBLIC_CACHE = 'public, max-age=31536000, immutable';

@ApiTags('images')
@ApiBearerAuth()
@Controller('api/images')
export class SignedUrlsController {
  constructor(private readonly signedUrls: SignedUrlsService) {}

  @Post(':id/derivatives/:preset/url')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A signed public URL of a preset of one of your images, for <img> tags and CDNs (no bearer token needed)',
    description:
      'Whoever holds the URL gets that derivative, and only it; its answers carry `Cache-Control: public, max-age=31536000, immutable`. ' +
      'Signed with URL_SIGNING_KEY (HMAC-SHA256); URLs signed with a key listed in URL_SIGNING_KEY_PREVIOUS keep working after a rotation.',
  })
  @ApiParam({ name: 'preset', example: 'thumb_256' })
  @ApiOkResponse({ type: SignedUrlResponseDto })
  @ApiErrorResponses(401, 404, 422)
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Param('preset') preset: string,
    @Body() dto: CreateSignedUrlDto,
    @Req() request: Request,
  ): Promise<SignedUrlResponseDto> {
    return answer(request, await this.signedUrls.issue(principal, id, preset, dto.expires_in));
  }

  @Post(':id/derivatives/url')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A signed public URL of free-form steps applied to one of your images (only when STRICT_PRESETS is off)',
    description:
      'As for a preset, with the steps (checked as a preset’s) carried in the URL in place of a preset’s name. ' +
      'Answers 403 while STRICT_PRESETS is on, the default: then public URLs name presets only.',
  })
  @ApiOkResponse({ type: SignedUrlResponseDto })
  @ApiErrorResponses(401, 403, 404, 422)
  async createForSteps(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Body() dto: CreateStepsSignedUrlDto,
    @Req() request: Request,
  ): Promise<SignedUrlResponseDto> {
    return answer(request, await this.signedUrls.issueSteps(principal, id, dto, dto.expires_in));
  }
}

function answer(request: Request, issued: IssuedUrl): SignedUrlResponseDto {
  return { url: `${request.protocol}://${request.get('host')}${issued.path}`, expires_at: issued.expiresAt?.toISOString() ?? null };
}

@ApiTags('images')
@Controller('r')
export class PublicDerivativesController {
  constructor(
    private readonly signedUrls: SignedUrlsService,
    private readonly files: ImageFilesService,
  ) {}

  @Get(':signature/:preset/:id')
  @Public()
  @ApiOperation({
    summary: 'A derivative by signed URL (POST /api/images/:id/derivatives/:preset/url makes one): no credentials',
    description:
      'Answers as GET /api/images/:id/derivatives/:preset does (the file, 202 while it is made, ETag, 304, Range), with ' +
      '`Cache-Control: public, max-age=31536000, immutable` on the file. A bad or expired signature answers 403 before anything is read, ' +
      'as does a URL of free-form steps while STRICT_PRESETS is on.',
  })
  @ApiParam({ name: 'preset', example: 'thumb_256', description: 'A preset’s name, or free-form steps as issued ("~" and base64url)' })
  @ApiQuery({ name: 'expires', required: false, description: 'Unix time the URL stops working at, as issued (signed with the rest)' })
  @ApiProduces('image/webp', 'image/avif', 'image/jpeg', 'image/png')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 202, description: 'Not made within DERIVATIVE_WAIT: ask again after Retry-After seconds.' })
  @ApiResponse({ status: 206, description: 'The bytes of the one range asked for, with `Content-Range`.' })
  @ApiResponse({ status: 304, description: 'Unchanged since the `ETag` the request names.' })
  @ApiErrorResponses(403, 404, 409, 416, 422)
  async derivative(
    @Param('signature') signature: string,
    @Param('preset') preset: string,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Query('expires') expires: unknown,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DerivativeBody> {
    // Anything but the digits it was issued with cannot match the signature: checked as such.
    const expiry = expires === undefined ? null : typeof expires === 'string' && /^[0-9]{1,12}$/.test(expires) ? Number(expires) : -1;
    const answer = await this.signedUrls.serve(signature, { preset, imageId: id, expires: expiry }, request.headers.accept);
    return sendDerivative(answer, `${id}-${isFreeForm(preset) ? 'steps' : preset}`, request, response, this.files, PUBLIC_CACHE);
  }
}
