import { ApiProperty } from '@nestjs/swagger';
import { JobType } from '../job-type.entity';

export class JobTypeResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'grayscale' }) job_name: string;
  @ApiProperty({ type: String, nullable: true, example: 'typescript' }) language: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(jobType: JobType): JobTypeResponseDto {
    return {
      id: jobType.id,
      job_name: jobType.jobName,
      language: jobType.language,
      created_at: jobType.createdAt.toISOString(),
      updated_at: jobType.updatedAt.toISOString(),
    };
  }
}
