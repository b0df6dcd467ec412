import { ApiProperty } from '@nestjs/swagger';
import { Job } from '../job.entity';

export class JobResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'queued', description: "'queued', 'running', 'completed' or 'failed'" }) status: string;
  @ApiProperty({ type: String, nullable: true }) environment: string | null;
  @ApiProperty({ type: String, nullable: true }) image_url: string | null;
  @ApiProperty({ type: [String], example: ['process', 'grayscale', 'histogram'] }) job_type: string[];
  @ApiProperty() user_id: number;
  @ApiProperty({ type: Number, nullable: true }) image_id: number | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(job: Job): JobResponseDto {
    return {
      id: job.id,
      status: job.status,
      environment: job.environment,
      image_url: job.imageUrl,
      job_type: job.jobType,
      user_id: job.userId,
      image_id: job.imageId,
      created_at: job.createdAt.toISOString(),
      updated_at: job.updatedAt.toISOString(),
    };
  }
}
