import { ApiProperty } from '@nestjs/swagger';
import type { InjectionSummary } from '../job-injection';

export class InjectionSummaryDto {
  @ApiProperty({ type: [String], example: ['process', 'grayscale', 'histogram'] }) job_sequence: string[];
  @ApiProperty({ type: Object, example: {} }) params: Record<string, object>;
  @ApiProperty({ description: 'Images the selection matched that have a stored file.' }) images_matched: number;
  @ApiProperty({ description: 'Of those, images with a completed job of this sequence and params.' }) already_done: number;
  @ApiProperty({ description: 'Images with such a job queued or running (and none completed).' }) already_pending: number;
  @ApiProperty({ description: 'Images with neither: no such job, or only failed or cancelled ones.' }) missing: number;
  @ApiProperty({ description: 'Jobs created: the missing ones, every match with force, none on a dry run.' }) jobs_created: number;
  @ApiProperty() force: boolean;
  @ApiProperty() dry_run: boolean;

  static from(summary: InjectionSummary): InjectionSummaryDto {
    return {
      job_sequence: summary.sequence,
      params: summary.params,
      images_matched: summary.matched,
      already_done: summary.done,
      already_pending: summary.pending,
      missing: summary.matched - summary.done - summary.pending,
      jobs_created: summary.created,
      force: summary.force,
      dry_run: summary.dryRun,
    };
  }
}
