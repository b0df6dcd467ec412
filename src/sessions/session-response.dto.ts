import { ApiProperty } from '@nestjs/swagger';
import { Session } from './session.entity';

/** A session as its owner sees it: never its token (which the server does not have). */
export class SessionResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'Updated at most once a minute.' }) last_used_at: string;
  @ApiProperty({ type: String, nullable: true }) user_agent: string | null;
  @ApiProperty({ type: String, nullable: true }) ip: string | null;
  @ApiProperty({ description: 'Whether this is the session of the token this request was sent with.' }) current: boolean;

  static from(session: Session, currentId: number | null): SessionResponseDto {
    return {
      id: session.id,
      created_at: session.createdAt.toISOString(),
      last_used_at: session.lastUsedAt.toISOString(),
      user_agent: session.userAgent,
      ip: session.ip,
      current: session.id === currentId,
    };
  }
}
