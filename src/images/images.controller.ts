import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Req,
  Res,
  StreamableFile,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { answerStoredFile, notModified } from '../common/conditional-get';
import { strongEtag } from '../common/etag';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { sendJsonArray } from '../common/json-array-stream';
import { setNextPageLink } from '../common/selection/next-page-link';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import type { Selection, SelectionKey } from '../pipelines/selection';
import { multipartUpload, RateLimit } from '../rate-limits/rate-limit.decorator';
import { CreateImageDto } from './dto/create-image.dto';
import { ImageResponseDto } from './dto/image-response.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import { UploadUrlRequestDto, UploadUrlResponseDto } from './dto/upload-url.dto';
import { ImageFilesService } from './image-files.service';
import { ImagesService } from './images.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days', 'user_id', 'image_type', 'after_id', 'include'];

@ApiTags('images')
@ApiBearerAuth()
@ApiExtraModels(CreateImageDto)
@Controller('api/images')
export class ImagesController {
  constructor(
    private readonly images: ImagesService,
    private readonly files: ImageFilesService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'List your images, newest first (admins: everyone’s)',
    description:
      'Histogram bins only with `include=histogram`. `n=all` streams the whole list. With `after_id`, in id order, a page at a time.',
  })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [ImageResponseDto] })
  @ApiErrorResponses(401, 403, 422)
  async index(
    @CurrentPrincipal() principal: Principal,
    @SelectionQuery(FILTERS) selection: Selection,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    if (selection.limit === null) {
      sendJsonArray(response, await this.images.streamAll(principal, selection));
      return;
    }
    const rows = await this.images.list(principal, selection);
    setNextPageLink(request, response, selection, rows);
    response.json(rows.map(ImageResponseDto.fromRow));
  }

  @Post()
  @RateLimit('uploads', multipartUpload)
  @ApiOperation({
    summary: 'Create an image record; as multipart/form-data with a `file` part, upload its original in the same request',
  })
  @ApiConsumes('application/json', 'multipart/form-data')
  @ApiBody({
    description: 'As JSON, the record alone; as multipart/form-data, the same fields with the original in a `file` part.',
    schema: {
      anyOf: [
        { $ref: getSchemaPath(CreateImageDto) },
        {
          allOf: [
            { $ref: getSchemaPath(CreateImageDto) },
            {
              type: 'object',
              required: ['file'],
              properties: { file: { type: 'string', format: 'binary', description: 'JPEG, PNG, WebP, GIF, TIFF or AVIF' } },
            },
          ],
        },
      ],
    },
  })
  @ApiCreatedResponse({ type: ImageResponseDto })
  @ApiErrorResponses(400, 401, 403, 413, 415, 422)
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateImageDto, @Req() request: Request): Promise<ImageResponseDto> {
    const image = request.is('multipart/form-data')
      ? await this.files.createFromMultipart(principal, request)
      : await this.images.create(principal, dto);
    return ImageResponseDto.from(image);
  }

  @Put(':id/file')
  @RateLimit('uploads')
  @ApiOperation({ summary: "Upload the image's original: the request body is the file's bytes" })
  @ApiConsumes('image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiErrorResponses(401, 404, 409, 413, 415, 422)
  async upload(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Req() request: Request,
    @Headers('content-length') contentLength?: string,
  ): Promise<ImageResponseDto> {
    if (!request.is('image/*')) {
      throw new UnsupportedMediaTypeException('Send the file as the body with Content-Type: image/<format>');
    }
    const declared = contentLength && /^[0-9]+$/.test(contentLength) ? Number(contentLength) : undefined;
    return ImageResponseDto.from(await this.files.attachFile(principal, id, request, declared));
  }

  @Get(':id/file')
  @ApiOperation({
    summary: "Download the image's file (`curl -OJ` saves it under its name)",
    description:
      'Strong `ETag` (the SHA-256) and `Last-Modified`: `If-None-Match` or `If-Modified-Since` answers 304. ' +
      'A single byte `Range` answers 206 (`curl -C -` resumes), honouring `If-Range`; one past the end 416.',
  })
  @ApiProduces('image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 206, description: 'The bytes of the one range asked for, with `Content-Range`.' })
  @ApiResponse({ status: 304, description: 'Unchanged since the `ETag` or date the request names.' })
  @ApiErrorResponses(401, 404, 416)
  async download(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<StreamableFile | undefined> {
    const file = await this.files.findFile(principal, id);
    const answer = answerStoredFile(request, file);
    response.set(answer.headers);
    // An original can be replaced: with Last-Modified alone, a cache could guess it fresh for a
    // while, so every use is checked (a 304 when it has not changed).
    response.setHeader('Cache-Control', 'no-cache');
    response.status(answer.status);
    if (answer.status === 304) return undefined;
    return new StreamableFile(await this.files.readFile(file, answer.range), {
      type: file.mime,
      length: answer.length,
      disposition: `attachment; filename="${file.filename}"`,
    });
  }

  @Post(':id/upload_url')
  @RateLimit('uploads')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A presigned URL to PUT the original to S3 directly; then record it with PUT /api/images/:id {"s3_key"}',
  })
  @ApiOkResponse({ type: UploadUrlResponseDto })
  @ApiErrorResponses(401, 404, 409, 422)
  uploadUrl(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Body() dto: UploadUrlRequestDto,
  ): Promise<UploadUrlResponseDto> {
    return this.files.presignUpload(principal, id, dto.content_type ?? 'image/jpeg');
  }

  @Get(':id')
  @ApiOperation({
    summary: 'Read one of your images',
    description: 'With a strong `ETag`: `If-None-Match` naming it answers 304.',
  })
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiResponse({ status: 304, description: 'Unchanged since the `ETag` the request names.' })
  @ApiErrorResponses(401, 404)
  @Header('Content-Type', 'application/json; charset=utf-8')
  async read(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<string | undefined> {
    const json = await this.images.readJson(principal, id);
    const etag = strongEtag(json, 'utf8');
    response.setHeader('ETag', etag);
    if (!notModified(request.headers, { ETag: etag })) return json;
    response.status(304);
    return undefined;
  }

  @Put(':id')
  @ApiOperation({ summary: "Update an image; s3_key records a presigned upload, marking it 'original stored'" })
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Body() dto: UpdateImageDto,
  ): Promise<ImageResponseDto> {
    const { s3_key } = dto;
    const image =
      s3_key === undefined
        ? await this.images.update(principal, id, dto)
        : await this.files.updateWithUpload(principal, id, { ...dto, s3_key });
    return ImageResponseDto.from(image);
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete one of your images and its file' })
  @ApiOkResponse({ type: ImageResponseDto, description: 'The deleted image.' })
  @ApiErrorResponses(401, 404)
  async destroy(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('image')) id: number): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.files.remove(principal, id));
  }
}
