import { Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { Public } from '../identity/public.decorator';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { IdempotencyKeyIgnored } from '../idempotency/idempotency-key-ignored.decorator';
import { EventsTokenResponseDto } from './events-token-response.dto';
import { JobEventsAccess } from './job-events-access';
import { JobEventsService } from './job-events.service';

const STREAM_DESCRIPTION =
  'Server-Sent Events (`Accept: text/event-stream`): `status` at each change of status (with progress, attempts, error, outputs and result) ' +
  'and `progress` at each finished step, each with an `id`; reconnect with `Last-Event-ID` to get what was missed (kept EVENTS_REPLAY seconds). ' +
  'A comment every 15 s keeps the stream alive. Authenticate with the bearer token, or `?access_token=` from the matching `events_token` route.';

const EVENTS_TOKEN_NOT_KEPT = 'The answer is a 60-second token, never stored: a retry gets a fresh one.';

/**
 * The event streams authenticate themselves (@Public to the global guard): a browser's
 * EventSource cannot send the Authorization header, so they also take an events token.
 */
@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/jobs')
export class JobEventsController {
  constructor(
    private readonly access: JobEventsAccess,
    private readonly events: JobEventsService,
  ) {}

  @Public()
  @Get('events')
  @ApiOperation({ summary: "Stream the changes of all your jobs (admins: everyone's)", description: STREAM_DESCRIPTION })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  @ApiQuery({ name: 'access_token', required: false })
  @ApiOkResponse({ description: 'An endless text/event-stream.' })
  @ApiErrorResponses(401)
  async streamAll(
    @Req() request: Request,
    @Res() response: Response,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('access_token') accessToken: string | undefined,
  ): Promise<void> {
    const principal = await this.access.authenticate(request, 'all', single(accessToken));
    await this.events.streamAll(principal, single(lastEventId), response);
  }

  @Post('events_token')
  @IdempotencyKeyIgnored(EVENTS_TOKEN_NOT_KEPT)
  @HttpCode(201)
  @ApiOperation({ summary: 'A 60-second access_token for GET /api/jobs/events (for EventSource, which cannot send headers)' })
  @ApiOkResponse({ type: EventsTokenResponseDto })
  @ApiErrorResponses(401)
  makeAllToken(@CurrentPrincipal() principal: Principal): Promise<EventsTokenResponseDto> {
    return this.access.makeToken(principal, 'all');
  }

  @Public()
  @Get(':id/events')
  @ApiOperation({ summary: "Stream one of your jobs' changes until it is final", description: STREAM_DESCRIPTION })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  @ApiQuery({ name: 'access_token', required: false })
  @ApiOkResponse({ description: 'A text/event-stream that ends once the job is completed, failed or cancelled.' })
  @ApiErrorResponses(401, 404)
  async streamJob(
    @Req() request: Request,
    @Res() response: Response,
    @Param('id', new ParseIdPipe('job')) id: number,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('access_token') accessToken: string | undefined,
  ): Promise<void> {
    const principal = await this.access.authenticate(request, { jobId: id }, single(accessToken));
    await this.access.ownedJob(principal, id);
    await this.events.streamJob(id, single(lastEventId), response);
  }

  @Post(':id/events_token')
  @IdempotencyKeyIgnored(EVENTS_TOKEN_NOT_KEPT)
  @HttpCode(201)
  @ApiOperation({ summary: 'A 60-second access_token for GET /api/jobs/:id/events (for EventSource, which cannot send headers)' })
  @ApiOkResponse({ type: EventsTokenResponseDto })
  @ApiErrorResponses(401, 404)
  makeJobToken(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<EventsTokenResponseDto> {
    return this.access.makeToken(principal, { jobId: id });
  }
}

/** A query or header given twice arrives as an array; only one value can name a token or an event. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
