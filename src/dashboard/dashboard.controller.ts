import { Controller, Get, Header, HttpCode, Param, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AdminOnly } from '../identity/admin-only.decorator';
import { clearSessionCookie, CookieAuth, csrfTokenOf, sessionCookieOf } from '../auth/cookie-session';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { Public } from '../identity/public.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { JobResponseDto } from '../jobs/dto/job-response.dto';
import { QueueResponseDto } from '../queues/dto/queue-response.dto';
import { DashboardPageFilter } from './dashboard-page.filter';
import { renderDashboard } from './dashboard.page';
import { DASHBOARD_SCRIPT } from './dashboard.script';
import { DashboardService } from './dashboard.service';

/**
 * The admin queue dashboard: a server-rendered page, not part of the JSON API (nor of its docs).
 * A browser signs in with the session cookie; a bearer token works as everywhere else.
 */
@ApiExcludeController()
@Controller('admin/queues')
export class DashboardController {
  constructor(private readonly dashboard: DashboardService) {}

  @Get()
  @CookieAuth()
  @UseFilters(DashboardPageFilter)
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async page(@CurrentPrincipal() principal: Principal, @Req() request: Request): Promise<string> {
    const view = await this.dashboard.overview(principal);
    const cookie = sessionCookieOf(request);
    // Only a page reached through the cookie needs the token: a bearer client sends its header.
    return renderDashboard(view, cookie && !request.headers.authorization ? csrfTokenOf(cookie) : null);
  }

  @Get('dashboard.js')
  @Public()
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  script(): string {
    return DASHBOARD_SCRIPT;
  }

  @Post('jobs/:id/retry')
  @CookieAuth()
  @AdminOnly('use the queue dashboard')
  @HttpCode(200)
  async retry(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.dashboard.retry(principal, id));
  }

  @Post('jobs/:id/cancel')
  @CookieAuth()
  @AdminOnly('use the queue dashboard')
  @HttpCode(200)
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('job')) id: number): Promise<JobResponseDto> {
    return JobResponseDto.from(await this.dashboard.cancel(principal, id));
  }

  /** The page's own route for POST /api/queues/:name/pause: the session cookie is sent to /admin only. */
  @Post(':name/pause')
  @CookieAuth()
  @AdminOnly('use the queue dashboard')
  @HttpCode(200)
  async pause(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<QueueResponseDto> {
    return QueueResponseDto.from(await this.dashboard.pause(principal, name));
  }

  @Post(':name/resume')
  @CookieAuth()
  @AdminOnly('use the queue dashboard')
  @HttpCode(200)
  async resume(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<QueueResponseDto> {
    return QueueResponseDto.from(await this.dashboard.resume(principal, name));
  }

  @Post('sign-out')
  @CookieAuth()
  @HttpCode(200)
  async signOut(
    @CurrentPrincipal() principal: Principal,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<{ signed_out: true }> {
    await this.dashboard.signOut(principal);
    clearSessionCookie(request, response);
    return { signed_out: true };
  }
}
