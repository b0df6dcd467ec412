import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AdminFields } from '../identity/admin-only.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { Public } from '../identity/public.decorator';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { SessionsService } from '../sessions/sessions.service';
import { setNextPageLink } from '../common/selection/next-page-link';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import { RateLimit } from '../rate-limits/rate-limit.decorator';
import type { Selection, SelectionKey } from '../pipelines/selection';
import { CreateUserDto } from './dto/create-user.dto';
import { UpdateUserDto } from './dto/update-user.dto';
import { AuthenticatedUserResponseDto, UserResponseDto } from './dto/user-response.dto';
import { UsersService } from './users.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days', 'after_id'];

@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
  ) {}

  @Get()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'List users, newest first: yourself, or everyone for an admin' })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [UserResponseDto] })
  @ApiErrorResponses(401, 422)
  async index(
    @CurrentPrincipal() principal: Principal,
    @SelectionQuery(FILTERS) selection: Selection,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<UserResponseDto[]> {
    const rows = await this.users.findAll(principal, selection);
    setNextPageLink(request, response, selection, rows);
    return rows.map(UserResponseDto.from);
  }

  @Post()
  @Public()
  @RateLimit('auth')
  @ApiOperation({ summary: 'Sign up: no credentials needed; starts your first session and answers with its bearer token' })
  @ApiCreatedResponse({ type: AuthenticatedUserResponseDto })
  @ApiErrorResponses(400, 422)
  async create(@Body() dto: CreateUserDto, @Req() request: Request): Promise<AuthenticatedUserResponseDto> {
    const { user, token } = await this.users.create(dto, {
      userAgent: request.headers['user-agent'] ?? null,
      ip: request.ip ?? null,
    });
    return AuthenticatedUserResponseDto.withToken(user, token);
  }

  @Delete(':id/sessions')
  @ApiBearerAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'End every session of a user (signs them out everywhere): yourself, or anyone for an admin' })
  @ApiOkResponse({ description: 'How many sessions ended: `{"ended": 2}`.' })
  @ApiErrorResponses(401, 404)
  async destroySessions(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('user')) id: number,
  ): Promise<{ ended: number }> {
    await this.users.findOne(principal, id);
    return { ended: await this.sessions.endAllOf(id) };
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Read your own user, with your usage and quotas (an admin: themself too)' })
  @ApiOkResponse({ type: UserResponseDto })
  @ApiErrorResponses(401, 404)
  async readMe(@CurrentPrincipal() principal: Principal): Promise<UserResponseDto> {
    const user = await this.users.me(principal);
    return UserResponseDto.withQuota(user, await this.users.quotaOf(user));
  }

  @Get(':id')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Read a user, with their usage and quotas: yourself, or anyone for an admin' })
  @ApiOkResponse({ type: UserResponseDto })
  @ApiErrorResponses(401, 404)
  async read(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('user')) id: number): Promise<UserResponseDto> {
    const user = await this.users.findOne(principal, id);
    return UserResponseDto.withQuota(user, await this.users.quotaOf(user));
  }

  @Put(':id')
  @AdminFields({ admin: 'grant or revoke admin', max_jobs_in_progress: 'change quotas', max_storage_bytes: 'change quotas' })
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change your username, email or password (admins: anyone, `admin` and the quotas)' })
  @ApiOkResponse({ type: UserResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('user')) id: number,
    @Body() dto: UpdateUserDto,
  ): Promise<UserResponseDto> {
    const user = await this.users.update(principal, id, dto);
    return UserResponseDto.withQuota(user, await this.users.quotaOf(user));
  }

  @Delete(':id')
  @ApiBearerAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a user with their images and jobs: yourself, or anyone for an admin' })
  @ApiOkResponse({ type: UserResponseDto, description: 'The deleted user.' })
  @ApiErrorResponses(401, 404)
  async destroy(@CurrentPrincipal() principal: Principal, @Param('id', new ParseIdPipe('user')) id: number): Promise<UserResponseDto> {
    return UserResponseDto.from(await this.users.remove(principal, id));
  }
}
