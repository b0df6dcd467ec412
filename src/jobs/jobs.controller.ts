import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res, StreamableFile } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBearerAuth, ApiCreatedResponse, ApiExtraModels, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { setNextPageLink } from '../common/selection/next-page-link';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import type { Selection, SelectionKey } from '../pipelines/selection';
import { jobsInBody, RateLimit } from '../rate-limits/rate-limit.decorator';
import { describeError } from '../common/api-exception.filter';
import { CreateJobBatchDto, JobBatchItemDto, jobsInBatch, MAX_BATCH_JOBS } from './dto/create-job-batch.dto';
import { CreateJobDto } from './dto/create-job.dto';
import { JobDetailResponseDto } from './dto/job-detail-response.dto';
import { JobResponseDto } from './dto/job-response.dto';
import { UpdateJobDto } from './dto/update-job.dto';
import { JobsService } from './jobs.service';
import { QueueWaitService } from './queue-wait.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days', 'user_id', 'status', 'lane', 'after_id'];

@ApiTags('jobs')
@ApiExtraModels(CreateJobDto)
@ApiBearerAuth()
@Controller('api/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly queueWaits: QueueWaitService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List your jobs, newest first (admins: everyone’s)' })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [JobResponseDto] })
  @ApiErrorResponses(401, 403, 422)
  async index(
    @CurrentPrincipal() principal: Principal,
    @SelectionQuery(FILTERS) selection: Selection,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<JobResponseDto[]> {
    const rows = await this.jobs.findAll(principal, selection);
    setNextPageLink(request, response, selection, rows);
    return rows.map(JobResponseDto.from);
  }

  @Post()
  @RateLimit('jobs', jobsInBody)
  @ApiOperation({
    summary: 'Create a job on one of your images and queue it',
    description:
      'A process job whose every step was done before (same input file, operation, version and params), without `force`, ' +
      'is answered already `completed`: its outputs point at the earlier files (reused_steps lists every step) and it is never queued.',
  })
  @ApiCreatedResponse({ type: JobResponseDto })
  @ApiErrorResponses(400, 401, 403, 422)
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateJobDto): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.jobs.create(principal, dto));
  }

  @Post('batch')
  @HttpCode(200)
  @RateLimit('jobs', jobsInBatch)
  @ApiOperation({
    summary: `Create up to ${MAX_BATCH_JOBS} jobs in one request`,
    description:
      'Each body of `jobs` is checked as POST /api/jobs checks its body, and answered in its place, in order: ' +
      '`{"status": 201, "job": {…}}`, or `{"status": 4xx, "error": …, "details": […]}` as POST /api/jobs would have answered it. ' +
      'One bad body does not stop the others. Each job counts against your jobs in progress (429 in its place past the quota) ' +
      'and the JOB_RATE_LIMIT budget (the whole batch is refused with 429 when it would overrun what is left). ' +
      `More than ${MAX_BATCH_JOBS} bodies: 422, nothing created.`,
  })
  @ApiOkResponse({ type: [JobBatchItemDto], description: "Each body's outcome, in the order of `jobs`." })
  @ApiErrorResponses(400, 401, 413, 422)
  async createMany(@CurrentPrincipal() principal: Principal, @Body() dto: CreateJobBatchDto): Promise<JobBatchItemDto[]> {
    return (await this.jobs.createMany(principal, dto.jobs)).map((outcome) => {
      if (!(outcome instanceof Error)) return { status: 201, job: JobResponseDto.from(outcome) };
      const { status, body } = describeError(outcome);
      return { status, ...body };
    });
  }

  @Get(':id')
  @ApiOperation({
    summary: 'Read one of your jobs',
    description: 'A queued job also says roughly where it stands in its queue: `ahead` and `estimated_start_at`.',
  })
  @ApiOkResponse({ type: JobDetailResponseDto })
  @ApiErrorResponses(401, 404)
  async read(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<JobDetailResponseDto> {
    const job = await this.jobs.findOne(principal, id);
    return JobDetailResponseDto.withWait(job, await this.queueWaits.of(job));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a queued or running job',
    description:
      'A queued job leaves the queue; a running one stops at its next step at the latest and records nothing more. 409 once the job has ended.',
  })
  @ApiOkResponse({ type: JobResponseDto, description: 'The job, now cancelled.' })
  @ApiErrorResponses(401, 404, 409)
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.jobs.cancel(principal, id));
  }

  @Post(':id/retry')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Queue a failed or cancelled job again',
    description:
      'Its error is cleared and its attempts start afresh; the outputs its steps already recorded are kept and not redone. 409 for a job that has not failed or been cancelled.',
  })
  @ApiOkResponse({ type: JobResponseDto, description: 'The job, queued again.' })
  @ApiErrorResponses(401, 404, 409)
  async retry(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.jobs.retry(principal, id));
  }

  @Get(':id/download')
  @ApiOperation({ summary: "Download the job's output: the file itself, or a zip when it made several" })
  @ApiProduces('image/png', 'image/jpeg', 'image/webp', 'image/avif', 'application/zip')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  @ApiErrorResponses(401, 404)
  async download(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<StreamableFile> {
    const file = await this.jobs.openDownload(principal, id);
    return new StreamableFile(file.stream, {
      type: file.mime,
      length: file.bytes ?? undefined,
      disposition: `attachment; filename="${file.filename}"`,
    });
  }

  @Put(':id')
  @ApiOperation({ summary: 'Change a job that is still queued' })
  @ApiOkResponse({ type: JobResponseDto })
  @ApiErrorResponses(400, 401, 404, 409, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('job')) id: number,
    @Body() dto: UpdateJobDto,
  ): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.jobs.update(principal, id, dto));
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete one of your jobs (a queued or running one is cancelled first)' })
  @ApiOkResponse({ type: JobResponseDto, description: 'The deleted job.' })
  @ApiErrorResponses(401, 404)
  async destroy(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.jobs.remove(principal, id));
  }
}
