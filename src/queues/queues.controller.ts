import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../identity/admin-only.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { QUEUE_NAMES } from '../job-runs/queue-names';
import { QueueResponseDto } from './dto/queue-response.dto';
import { PAUSE_QUEUES, QueuesService, SEE_QUEUES } from './queues.service';

const QUEUE_PARAM = { name: 'name', enum: QUEUE_NAMES, description: 'The queue: a job’s queue is the first element of its job_type.' };

@ApiTags('queues')
@ApiBearerAuth()
@Controller('api/queues')
export class QueuesController {
  constructor(private readonly queues: QueuesService) {}

  @Get()
  @AdminOnly(SEE_QUEUES)
  @ApiOperation({ summary: 'List the job queues with their pause and backlog: pending, waiting and running jobs (admins)' })
  @ApiOkResponse({ type: [QueueResponseDto] })
  @ApiErrorResponses(401, 403)
  async index(@CurrentPrincipal() principal: Principal): Promise<QueueResponseDto[]> {
    return (await this.queues.findAll(principal)).map(QueueResponseDto.from);
  }

  @Post(':name/pause')
  @AdminOnly(PAUSE_QUEUES)
  @HttpCode(200)
  @ApiParam(QUEUE_PARAM)
  @ApiOperation({
    summary: 'Pause a queue (admins)',
    description:
      'New jobs of the queue are still taken, as queued, and none starts until it is resumed; its running jobs finish. ' +
      'The pause is kept in the database: it holds on every node and through restarts. Pausing a paused queue changes nothing.',
  })
  @ApiOkResponse({ type: QueueResponseDto })
  @ApiErrorResponses(401, 403, 404)
  async pause(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<QueueResponseDto> {
    return QueueResponseDto.from(await this.queues.pause(principal, name));
  }

  @Post(':name/resume')
  @AdminOnly(PAUSE_QUEUES)
  @HttpCode(200)
  @ApiParam(QUEUE_PARAM)
  @ApiOperation({
    summary: 'Resume a paused queue (admins)',
    description: 'Its queued jobs start again, in their turns. Resuming a queue that is not paused changes nothing.',
  })
  @ApiOkResponse({ type: QueueResponseDto })
  @ApiErrorResponses(401, 403, 404)
  async resume(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<QueueResponseDto> {
    return QueueResponseDto.from(await this.queues.resume(principal, name));
  }
}
