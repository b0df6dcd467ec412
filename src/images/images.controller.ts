import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { Principal } from '../auth/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import type { Selection, SelectionKey } from '../common/selection/selection';
import { CreateImageDto } from './dto/create-image.dto';
import { ImageResponseDto } from './dto/image-response.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import { ImagesService } from './images.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days', 'user_id', 'image_type'];

@ApiTags('images')
@ApiBearerAuth()
@Controller('api/images')
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @Get()
  @ApiOperation({ summary: 'List your images, newest first (admins: everyone’s)' })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [ImageResponseDto] })
  @ApiErrorResponses(401, 403, 422)
  async index(
    @CurrentPrincipal() principal: Principal,
    @SelectionQuery(FILTERS) selection: Selection,
  ): Promise<ImageResponseDto[]> {
    return (await this.images.findAll(principal, selection)).map(ImageResponseDto.from);
  }

  @Post()
  @ApiOperation({ summary: "Create an image record (status 'created'), before uploading its file" })
  @ApiCreatedResponse({ type: ImageResponseDto })
  @ApiErrorResponses(400, 401, 403, 422)
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateImageDto): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.create(principal, dto));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read one of your images' })
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiErrorResponses(401, 404)
  async read(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
  ): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.findOne(principal, id));
  }

  @Put(':id')
  @ApiOperation({ summary: "Update an image; giving s3_key marks it 'original stored'" })
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
    @Body() dto: UpdateImageDto,
  ): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.update(principal, id, dto));
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete one of your images' })
  @ApiOkResponse({ type: ImageResponseDto, description: 'The deleted image.' })
  @ApiErrorResponses(401, 404)
  async destroy(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image')) id: number,
  ): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.remove(principal, id));
  }
}
