import { ApiProperty, getSchemaPath } from '@nestjs/swagger';

export class LivenessResponseDto {
  @ApiProperty({ example: 'ok' }) status: 'ok';
}

export class ComponentStatusDto {
  @ApiProperty({ enum: ['up', 'down'], example: 'up' }) status: 'up' | 'down';
  @ApiProperty({ required: false, example: 'timeout of 2000ms exceeded', description: 'Why it is down' }) message?: string;
  @ApiProperty({ example: 3, description: 'Milliseconds the check took' }) responseTime: number;
  @ApiProperty({ required: false, enum: ['redis', 'postgres'], description: 'The queue’s backend (the `queue` component only)' })
  backend?: 'redis' | 'postgres';
  @ApiProperty({ required: false, enum: ['local', 's3'], description: 'The storage driver (the `storage` component only)' })
  driver?: 'local' | 's3';
}

const byComponent = (description: string) => ({
  type: 'object' as const,
  additionalProperties: { $ref: getSchemaPath(ComponentStatusDto) },
  description,
});

/** Terminus's result: `details` holds every component, `info` those up, `error` those down. */
export class ReadinessResponseDto {
  @ApiProperty({ enum: ['ok', 'error'], example: 'ok' }) status: 'ok' | 'error';
  @ApiProperty(byComponent('The components that are up')) info: Record<string, ComponentStatusDto>;
  @ApiProperty(byComponent('The components that are down')) error: Record<string, ComponentStatusDto>;
  @ApiProperty({
    ...byComponent(
      'Every component: `database` (PostgreSQL), `queue` (with its `backend`, redis or postgres) and `storage` (with its `driver`, local or s3); ' +
        'from a SIGTERM on, only `node`, down while the node drains and stops',
    ),
    example: {
      database: { status: 'up', responseTime: 2 },
      queue: { status: 'up', backend: 'redis', responseTime: 1 },
      storage: { status: 'up', driver: 'local', responseTime: 1 },
    },
  })
  details: Record<string, ComponentStatusDto>;
}
