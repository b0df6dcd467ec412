import { Controller, Get, Headers, Query, Res, UnauthorizedException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../identity/public.decorator';
import { AppConfig } from '../config/app-config';
import { METRICS_UNAUTHORIZED, metricsAccessAllowed } from './metrics-access';
import { MetricsRegistry } from './metrics-registry';

/**
 * Prometheus scrapes this, outside /api as scrapers expect. Not behind the users' bearer tokens
 * (@Public): METRICS_TOKEN guards it when set, and the ADMIN_TOKEN need not be handed to a scraper.
 */
@ApiTags('health')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics of this API process: HTTP requests, jobs, queue depth, process',
    description: 'When METRICS_TOKEN is set, send it as `Authorization: Bearer <METRICS_TOKEN>` or `?token=<METRICS_TOKEN>`.',
  })
  @ApiQuery({ name: 'token', required: false, description: 'METRICS_TOKEN, for scrapers that cannot send headers' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The Prometheus text exposition format', schema: { type: 'string' } })
  @ApiUnauthorizedResponse({ description: 'METRICS_TOKEN is set and the request did not carry it' })
  async scrape(
    @Headers('authorization') authorization: unknown,
    @Query('token') token: unknown,
    @Res({ passthrough: true }) response: Response,
  ): Promise<string> {
    if (!metricsAccessAllowed(this.config.METRICS_TOKEN, authorization, token)) throw new UnauthorizedException(METRICS_UNAUTHORIZED);
    const { contentType, text } = await this.metrics.exposition();
    response.type(contentType);
    return text;
  }
}
