import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { QuotaUsage } from '../../quotas/quotas';
import { User } from '../user.entity';

class QuotaFiguresDto {
  @ApiProperty({ description: 'Queued plus running jobs.' }) jobs_in_progress: number;
  @ApiProperty({ description: 'Bytes of stored files, originals and outputs.' }) storage_bytes: number;
}

export class UserResponseDto {
  @ApiProperty() id: number;
  @ApiProperty() username: string;
  @ApiProperty() email: string;
  @ApiProperty({ description: 'How many jobs this user has.' }) jobs_count: number;
  @ApiProperty({ description: 'How many images this user has.' }) image_count: number;
  @ApiProperty() admin: boolean;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;
  @ApiPropertyOptional({ type: QuotaFiguresDto, description: 'GET and PUT /api/users/:id only: what the user uses now.' })
  usage?: QuotaFiguresDto;
  @ApiPropertyOptional({
    type: QuotaFiguresDto,
    description: "GET and PUT /api/users/:id only: the user's quotas (an admin's or the defaults).",
  })
  limits?: QuotaFiguresDto;

  /** GET and PUT /api/users/:id: the record with the user's usage and limits. */
  static withQuota(user: User, quota: QuotaUsage): UserResponseDto {
    return { ...UserResponseDto.from(user), ...quota };
  }

  static from(user: User): UserResponseDto {
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      jobs_count: user.jobsCountNow,
      image_count: user.imageCountNow,
      admin: user.admin,
      created_at: user.createdAt.toISOString(),
      updated_at: user.updatedAt.toISOString(),
    };
  }
}

/** Sign-up and sign-in answer with the bearer token; no other response ever shows it. */
export class AuthenticatedUserResponseDto extends UserResponseDto {
  @ApiProperty({
    description:
      'A new session\'s bearer token, shown only here: send it as "Authorization: Bearer <authentication_token>". ' +
      'Absent when signing in with "cookie": true, whose token is only in the cookie.',
  })
  authentication_token: string;

  /** `token` is the new session's: each sign-up and sign-in starts one. */
  static withToken(user: User, token: string): AuthenticatedUserResponseDto {
    return { ...UserResponseDto.from(user), authentication_token: token };
  }
}
