import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** What an admin sets on one queue, kept in PostgreSQL so that it outlives restarts and the queue's own store. */
@Entity('queue_states')
export class QueueState {
  @PrimaryColumn({ type: 'varchar', length: 16 })
  name: string;

  /** A paused queue keeps taking jobs, as queued, and starts none of them. */
  @Column({ type: 'boolean', default: false })
  paused: boolean;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
