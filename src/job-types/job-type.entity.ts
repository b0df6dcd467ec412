import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity('job_types')
export class JobType {
  @PrimaryGeneratedColumn()
  id: number;

  @Index('job_types_job_name_key', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  jobName: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  language: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
