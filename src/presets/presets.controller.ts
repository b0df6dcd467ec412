import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { AdminOnly } from '../identity/admin-only.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { CreatePresetDto } from './dto/create-preset.dto';
import { PresetResponseDto } from './dto/preset-response.dto';
import { UpdatePresetDto } from './dto/update-preset.dto';
import { PresetsService } from './presets.service';

const NAME_PARAM = { name: 'name', example: 'thumb_256', description: "The preset's name" };

/** The presets every installation starts with (migrations/1797100000000-Presets.ts), for the docs. */
const SEEDED =
  'Seeded: `thumb_256` (thumbnail, then WebP at quality 80), `medium_1024` (resize to fit 1024×1024, then auto format at quality 80), ' +
  '`large_2048` (resize to fit 2048×2048, then auto format at quality 82), `square_512` (resize 512×512 cover, then auto format ' +
  'at quality 80), `avatar_128` (resize 128×128 cover, then auto format at quality 75), `gray_1024` (grayscale, resize to fit ' +
  '1024×1024, then JPEG at quality 85).';

@ApiTags('presets')
@ApiBearerAuth()
@Controller('api/presets')
export class PresetsController {
  constructor(private readonly presets: PresetsService) {}

  @Get()
  @ApiOperation({ summary: 'List the presets, by name', description: SEEDED })
  @ApiOkResponse({ type: [PresetResponseDto] })
  @ApiErrorResponses(401)
  async index(): Promise<PresetResponseDto[]> {
    return (await this.presets.findAll()).map(PresetResponseDto.from);
  }

  @Post()
  @AdminOnly('create presets')
  @ApiOperation({
    summary: 'Create a preset (admins)',
    description:
      "Its steps are checked as a process job's: operations of the catalogue (GET /api/job_types.json) and their params. " +
      '`convert` may take `format: "auto"`.',
  })
  @ApiCreatedResponse({ type: PresetResponseDto })
  @ApiErrorResponses(400, 401, 403, 422)
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreatePresetDto): Promise<PresetResponseDto> {
    return PresetResponseDto.from(await this.presets.create(principal, dto));
  }

  @Get(':name')
  @ApiOperation({ summary: 'Read a preset' })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: PresetResponseDto })
  @ApiErrorResponses(401, 404)
  async read(@Param('name') name: string): Promise<PresetResponseDto> {
    return PresetResponseDto.from(await this.presets.findOne(name));
  }

  @Put(':name')
  @AdminOnly('change presets')
  @ApiOperation({
    summary: 'Change a preset (admins)',
    description:
      'New steps (job_type, with its params) replace the old ones whole. A preset in use may change: derivatives are found by ' +
      'their steps, so the next request for one makes it with the new steps, and what the old steps made is never served for them.',
  })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: PresetResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('name') name: string,
    @Body() dto: UpdatePresetDto,
  ): Promise<PresetResponseDto> {
    return PresetResponseDto.from(await this.presets.update(principal, name, dto));
  }

  @Delete(':name')
  @HttpCode(200)
  @AdminOnly('delete presets')
  @ApiOperation({ summary: 'Delete a preset (admins); the images it made stay, as outputs of their originals' })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: PresetResponseDto, description: 'The deleted preset.' })
  @ApiErrorResponses(401, 403, 404)
  async destroy(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<PresetResponseDto> {
    return PresetResponseDto.from(await this.presets.remove(principal, name));
  }
}
