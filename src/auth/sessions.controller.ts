import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { AuthenticatedUserResponseDto } from '../users/dto/user-response.dto';
import { UsersService } from '../users/users.service';
import { CreateSessionDto } from './dto/create-session.dto';
import { Public } from './public.decorator';

@ApiTags('sessions')
@Controller('api/sessions')
export class SessionsController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with username or email and password; answers with your bearer token' })
  @ApiOkResponse({ type: AuthenticatedUserResponseDto })
  @ApiErrorResponses(400, 401, 422)
  async create(@Body() dto: CreateSessionDto): Promise<AuthenticatedUserResponseDto> {
    return AuthenticatedUserResponseDto.withToken(await this.users.authenticate(dto, dto.password));
  }
}
