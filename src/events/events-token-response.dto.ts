import { ApiProperty } from '@nestjs/swagger';

export class EventsTokenResponseDto {
  @ApiProperty({ description: 'Pass as ?access_token= to the event stream it was made for; it opens no other route.' })
  access_token: string;

  @ApiProperty({ example: 60, description: 'Seconds left to start a stream with it.' })
  expires_in: number;
}
