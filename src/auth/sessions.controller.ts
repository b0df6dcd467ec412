import { Body, Controller, Delete, Get, HttpCode, Logger, NotFoundException, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { SessionResponseDto } from '../sessions/session-response.dto';
import { SessionsService } from '../sessions/sessions.service';
import { AuthenticatedUserResponseDto, UserResponseDto } from '../users/dto/user-response.dto';
import { RateLimit } from '../rate-limits/rate-limit.decorator';
import { UsersService } from '../users/users.service';
import { setSessionCookie } from './cookie-session';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { CreateSessionDto } from './dto/create-session.dto';
import { Principal } from '../identity/principal';
import { Public } from '../identity/public.decorator';

/** Where a request came from: Express's `req.ip`, which follows `trust proxy` when it is set. */
export const originOf = (request: Request) => ({ userAgent: request.headers['user-agent'] ?? null, ip: request.ip ?? null });

@ApiTags('sessions')
@Controller('api/sessions')
export class SessionsController {
  private readonly logger = new Logger('SignIn');

  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @Public()
  @RateLimit('auth')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in with username or email and password: starts a new session, answers with its bearer token',
    description:
      'With "cookie": true the token goes into an HttpOnly, SameSite=Strict cookie for the admin pages instead, and the answer has no authentication_token.',
  })
  @ApiOkResponse({ type: AuthenticatedUserResponseDto })
  @ApiErrorResponses(400, 401, 422)
  async create(
    @Body() dto: CreateSessionDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AuthenticatedUserResponseDto | UserResponseDto> {
    const origin = originOf(request);
    const user = await this.users.authenticate(dto, dto.password).catch((error: unknown) => {
      // The login named, never the password; JSON-quoted so that it cannot forge a log line.
      const login = JSON.stringify((dto.username ?? dto.email ?? '').slice(0, 254));
      this.logger.warn(
        `Failed sign-in for ${dto.username !== undefined ? 'username' : 'email'} ${login} from ${origin.ip ?? 'unknown address'}`,
      );
      throw error;
    });
    const token = await this.sessions.create(user.id, origin);
    if (!dto.cookie) return AuthenticatedUserResponseDto.withToken(user, token);
    // Only in the HttpOnly cookie: no script, not even the page's own, ever reads this token.
    setSessionCookie(request, response, token, this.config.SESSION_TTL_DAYS);
    return UserResponseDto.from(user);
  }

  @Get()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'List your sessions (signed-in devices), most recently used first; never their tokens' })
  @ApiOkResponse({ type: [SessionResponseDto] })
  @ApiErrorResponses(401)
  async index(@CurrentPrincipal() principal: Principal): Promise<SessionResponseDto[]> {
    return (await this.sessions.list(principal)).map((session) => SessionResponseDto.from(session, principal.sessionId));
  }

  @Delete('current')
  @ApiBearerAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign out: ends the session of the token this request is sent with' })
  @ApiOkResponse({ description: 'Signed out: the token gets 401 from now on.' })
  @ApiErrorResponses(401, 404)
  async destroyCurrent(@CurrentPrincipal() principal: Principal): Promise<{ signed_out: true }> {
    if (principal.sessionId === null) throw new NotFoundException('ADMIN_TOKEN is no session: it cannot sign out');
    await this.sessions.end(principal, principal.sessionId);
    return { signed_out: true };
  }

  @Delete(':id')
  @ApiBearerAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'End one of your sessions (another device); 404 for anyone else’s' })
  @ApiOkResponse({ description: 'Ended: its token gets 401 from now on.' })
  @ApiErrorResponses(401, 404)
  async destroy(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('session')) id: number,
  ): Promise<{ id: number; ended: true }> {
    await this.sessions.end(principal, id);
    return { id, ended: true };
  }
}
