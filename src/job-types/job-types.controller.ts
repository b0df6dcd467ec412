import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../identity/admin-only.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import type { Selection, SelectionKey } from '../pipelines/selection';
import { CreateJobTypeDto } from './dto/create-job-type.dto';
import { JobTypeResponseDto } from './dto/job-type-response.dto';
import { UpdateJobTypeDto } from './dto/update-job-type.dto';
import { JobTypesService } from './job-types.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days'];

@ApiTags('job_types')
@ApiBearerAuth()
@Controller('api/job_types')
export class JobTypesController {
  constructor(private readonly jobTypes: JobTypesService) {}

  @Get()
  @ApiOperation({ summary: 'List job types, newest first' })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [JobTypeResponseDto] })
  @ApiErrorResponses(401, 422)
  async index(@SelectionQuery(FILTERS) selection: Selection): Promise<JobTypeResponseDto[]> {
    return (await this.jobTypes.findAll(selection)).map(JobTypeResponseDto.from);
  }

  @Post()
  @AdminOnly('create job types')
  @ApiOperation({ summary: 'Create a job type (admins)' })
  @ApiCreatedResponse({ type: JobTypeResponseDto })
  @ApiErrorResponses(400, 401, 403, 422)
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateJobTypeDto): Promise<JobTypeResponseDto> {
    return JobTypeResponseDto.from(await this.jobTypes.create(principal, dto));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read a job type' })
  @ApiOkResponse({ type: JobTypeResponseDto })
  @ApiErrorResponses(401, 404)
  async read(@Param('id', new ParseIdPipe('job type')) id: number): Promise<JobTypeResponseDto> {
    return JobTypeResponseDto.from(await this.jobTypes.findOne(id));
  }

  @Put(':id')
  @AdminOnly('change job types')
  @ApiOperation({ summary: 'Rename a job type (admins)' })
  @ApiOkResponse({ type: JobTypeResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('job type')) id: number,
    @Body() dto: UpdateJobTypeDto,
  ): Promise<JobTypeResponseDto> {
    return JobTypeResponseDto.from(await this.jobTypes.update(principal, id, dto));
  }

  @Delete(':id')
  @HttpCode(200)
  @AdminOnly('delete job types')
  @ApiOperation({ summary: 'Delete a job type (admins)' })
  @ApiOkResponse({ type: JobTypeResponseDto, description: 'The deleted job type.' })
  @ApiErrorResponses(401, 403, 404, 409)
  async destroy(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('job type')) id: number,
  ): Promise<JobTypeResponseDto> {
    return JobTypeResponseDto.from(await this.jobTypes.remove(principal, id));
  }
}
