import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { Principal } from '../auth/principal';
import { Public } from '../auth/public.decorator';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ApiSelectionQuery, SelectionQuery } from '../common/selection/selection.decorator';
import type { Selection, SelectionKey } from '../pipelines/selection';
import { CreateUserDto } from './dto/create-user.dto';
import { UpdateUserDto } from './dto/update-user.dto';
import { AuthenticatedUserResponseDto, UserResponseDto } from './dto/user-response.dto';
import { UsersService } from './users.service';

const FILTERS: SelectionKey[] = ['n', 'count', 'days'];

@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'List users, newest first: yourself, or everyone for an admin' })
  @ApiSelectionQuery(FILTERS)
  @ApiOkResponse({ type: [UserResponseDto] })
  @ApiErrorResponses(401, 422)
  async index(
    @CurrentPrincipal() principal: Principal,
    @SelectionQuery(FILTERS) selection: Selection,
  ): Promise<UserResponseDto[]> {
    return (await this.users.findAll(principal, selection)).map(UserResponseDto.from);
  }

  @Post()
  @Public()
  @ApiOperation({ summary: 'Sign up: no credentials needed; answers with your bearer token' })
  @ApiCreatedResponse({ type: AuthenticatedUserResponseDto })
  @ApiErrorResponses(400, 422)
  async create(@Body() dto: CreateUserDto): Promise<AuthenticatedUserResponseDto> {
    return AuthenticatedUserResponseDto.withToken(await this.users.create(dto));
  }

  @Get(':id')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Read a user: yourself, or anyone for an admin' })
  @ApiOkResponse({ type: UserResponseDto })
  @ApiErrorResponses(401, 404)
  async read(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('user')) id: number,
  ): Promise<UserResponseDto> {
    return UserResponseDto.from(await this.users.findOne(principal, id));
  }

  @Put(':id')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change your username, email or password (admins: anyone, and `admin`)' })
  @ApiOkResponse({ type: UserResponseDto })
  @ApiErrorResponses(400, 401, 403, 404, 422)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('user')) id: number,
    @Body() dto: UpdateUserDto,
  ): Promise<UserResponseDto> {
    return UserResponseDto.from(await this.users.update(principal, id, dto));
  }

  @Delete(':id')
  @ApiBearerAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a user with their images and jobs: yourself, or anyone for an admin' })
  @ApiOkResponse({ type: UserResponseDto, description: 'The deleted user.' })
  @ApiErrorResponses(401, 404)
  async destroy(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('user')) id: number,
  ): Promise<UserResponseDto> {
    return UserResponseDto.from(await this.users.remove(principal, id));
  }
}
