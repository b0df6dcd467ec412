import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../identity/admin-only.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import type { Selection, SelectionKey } from '../pipelines/selection';
import { CreateImageTypeDto } from './dto/create-image-type.dto';
import { ImageTypeResponseDto } from './dto/image-type-response.dto';
import { UpdateImageTypeDto } from './dto/update-image-type.dto';
import { ImageTypesService } from './image-types.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days'];

@ApiTags('image_types')
@ApiBearerAuth()
@Controller('api/image_types')
export class ImageTypesController {
  constructor(private readonly imageTypes: ImageTypesService) {}

  @Get()
  @ApiOperation({ summary: 'List image types, newest first' })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [ImageTypeResponseDto] })
  @ApiErrorResponses(401, 422)
  async index(@SelectionQuery(FILTERS) selection: Selection): Promise<ImageTypeResponseDto[]> {
    return (await this.imageTypes.findAll(selection)).map(ImageTypeResponseDto.from);
  }

  @Post()
  @AdminOnly('create image types')
  @ApiOperation({ summary: 'Create an image type (admins)' })
  @ApiCreatedResponse({ type: ImageTypeResponseDto })
  @ApiErrorResponses(400, 401, 403, 422)
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateImageTypeDto): Promise<ImageTypeResponseDto> {
    return ImageTypeResponseDto.from(await this.imageTypes.create(principal, dto));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read an image type' })
  @ApiOkResponse({ type: ImageTypeResponseDto })
  @ApiErrorResponses(401, 404)
  async read(@Param('id', new ParseIdPipe('image type')) id: number): Promise<ImageTypeResponseDto> {
    return ImageTypeResponseDto.from(await this.imageTypes.findOne(id));
  }

  @Put(':id')
  @AdminOnly('change image types')
  @ApiOperation({ summary: 'Rename an image type (admins)' })
  @ApiOkResponse({ type: ImageTypeResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image type')) id: number,
    @Body() dto: UpdateImageTypeDto,
  ): Promise<ImageTypeResponseDto> {
    return ImageTypeResponseDto.from(await this.imageTypes.update(principal, id, dto));
  }

  @Delete(':id')
  @HttpCode(200)
  @AdminOnly('delete image types')
  @ApiOperation({ summary: 'Delete an image type no image uses (admins)' })
  @ApiOkResponse({ type: ImageTypeResponseDto, description: 'The deleted image type.' })
  @ApiErrorResponses(401, 403, 404, 409)
  async destroy(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('image type')) id: number,
  ): Promise<ImageTypeResponseDto> {
    return ImageTypeResponseDto.from(await this.imageTypes.remove(principal, id));
  }
}
