import { Module } from '@nestjs/common';

/** Runs the pipelines of queued jobs; its processors arrive with the queue (issue 3). */
@Module({})
export class WorkerModule {}
