import { Controller, Get, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../identity/public.decorator';
import { ComponentStatusDto, LivenessResponseDto, ReadinessResponseDto } from './dto/health-response.dto';
import { HealthService } from './health.service';

/** Probes for load balancers and orchestrators: public, and cheap enough to call every few seconds. */
@ApiTags('health')
@ApiExtraModels(ComponentStatusDto)
@Public()
@Controller('api/health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @ApiOperation({ summary: 'Liveness: 200 whenever the process answers, whatever its dependencies' })
  @ApiOkResponse({ type: LivenessResponseDto })
  live(): LivenessResponseDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: PostgreSQL, the queue backend and the file store each answer (2 s each at most)' })
  @ApiOkResponse({ type: ReadinessResponseDto, description: 'Every component is up' })
  @ApiServiceUnavailableResponse({
    type: ReadinessResponseDto,
    description: 'A component is down: `error` names it and says why; from a SIGTERM on, `node` is, while the node drains and stops',
  })
  async ready(@Res({ passthrough: true }) response: Response): Promise<ReadinessResponseDto> {
    const { ready, result } = await this.health.ready();
    if (!ready) response.status(503);
    return result as ReadinessResponseDto;
  }
}
