import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One change of a job, as the `jobs` trigger recorded it (migrations JobEvents, JobEventOutbox):
 * its id orders a job's events and is what `Last-Event-ID` names; rows older than EVENTS_REPLAY
 * are deleted.
 */
@Entity('job_events')
@Index('job_events_job_id_idx', ['jobId', 'id'])
export class JobEvent {
  @PrimaryGeneratedColumn({ type: 'bigint', primaryKeyConstraintName: 'job_events_pkey' })
  id: string;

  @Column({ type: 'integer' })
  jobId: number;

  @Column({ type: 'integer' })
  userId: number;

  /** `status` (a change of status, with the job's whole state) or `progress` (a finished step). */
  @Column({ type: 'varchar', length: 16 })
  type: string;

  @Column({ type: 'jsonb' })
  data: Record<string, unknown>;

  @Index('job_events_created_at_idx')
  @Column({ type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;
}
