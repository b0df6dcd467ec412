import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import type { Image } from '../images/image.entity';
import type { Job } from '../job-runs/job.entity';
import type { User } from '../users/user.entity';
import type { UploadRequest } from './upload-request';

export const UPLOAD_STATE = {
  /** Bytes are arriving (or not yet): HEAD and PATCH go to the tus store. */
  receiving: 'receiving',
  /** The last byte has arrived and one request is making the image; `claimedAt` says since when. */
  completing: 'completing',
  /** The image (and its job, if one was asked for) exists; the tus store's bytes are gone. */
  completed: 'completed',
} as const;
export type UploadState = (typeof UPLOAD_STATE)[keyof typeof UPLOAD_STATE];

/** A resumable upload (tus): see migrations/1797700000000-Uploads.ts. */
@Entity('uploads')
export class ResumableUpload {
  /** The tus upload's id, as its URL names it. */
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'uploads_pkey' })
  id: string;

  @Index('uploads_user_id_idx')
  @Column({ type: 'integer' })
  userId: number;

  @ManyToOne('User', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'uploads_user_id_fkey' })
  user: Relation<User>;

  /** What the upload's metadata asked for, as checked at its creation. */
  @Column({ type: 'jsonb' })
  metadata: UploadRequest;

  /** Upload-Length, in bytes. */
  @Column({ type: 'bigint', transformer: { to: (value: number) => value, from: (value: string) => Number(value) } })
  size: number;

  @Column({ type: 'varchar', length: 16, default: UPLOAD_STATE.receiving })
  state: UploadState;

  @Column({ type: 'timestamptz', nullable: true })
  claimedAt: Date | null;

  @Index('uploads_image_id_idx')
  @Column({ type: 'integer', nullable: true })
  imageId: number | null;

  @ManyToOne('Image', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'uploads_image_id_fkey' })
  image: Relation<Image> | null;

  @Index('uploads_job_id_idx')
  @Column({ type: 'integer', nullable: true })
  jobId: number | null;

  @ManyToOne('Job', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'job_id', foreignKeyConstraintName: 'uploads_job_id_fkey' })
  job: Relation<Job> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Index('uploads_expires_at_idx')
  @Column({ type: 'timestamptz' })
  expiresAt: Date;
}
