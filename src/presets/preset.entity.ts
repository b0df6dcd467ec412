import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** A named transformation (docs/api.md, "Presets"): the steps of a process job, served by GET /api/images/:id/derivatives/:name. */
@Entity('presets')
export class Preset {
  @PrimaryGeneratedColumn({ primaryKeyConstraintName: 'presets_pkey' })
  id: number;

  @Index('presets_name_key', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** The normalised sequence, `{process,thumbnail,convert}`, as a job's job_type. */
  @Column({ type: 'text', array: true })
  jobType: string[];

  /** Each step's parameters, by operation name, as a job's; `convert.format` may be "auto". */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  params: Record<string, object>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
