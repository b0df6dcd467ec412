import { ApiProperty } from '@nestjs/swagger';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { JobType } from '../job-type.entity';

const OPERATIONS = new Map(operationCatalog.describe().map((operation) => [operation.name, operation]));

export class JobTypeResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'grayscale' }) job_name: string;
  @ApiProperty({ type: String, nullable: true, example: 'typescript' }) language: string | null;
  @ApiProperty({ type: String, nullable: true, description: "What the operation does, for the worker's own operations." })
  description: string | null;
  @ApiProperty({ type: [String], description: 'The parameters it takes in a job\'s params, e.g. ["width", "height", "fit"].' })
  params: string[];
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(jobType: JobType): JobTypeResponseDto {
    const operation = OPERATIONS.get(jobType.jobName);
    return {
      id: jobType.id,
      job_name: jobType.jobName,
      language: jobType.language,
      description: operation?.description ?? null,
      params: operation?.params ?? [],
      created_at: jobType.createdAt.toISOString(),
      updated_at: jobType.updatedAt.toISOString(),
    };
  }
}
