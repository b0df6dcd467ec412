import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Relation,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import type { Histogram } from '../histograms/histogram.entity';
import { ImageType } from '../image-types/image-type.entity';
import { IMAGE_STATUS } from '../pipelines/image-states';
import type { Job } from '../job-runs/job.entity';
import { User } from '../users/user.entity';

@Entity('images')
@Index('images_user_id_created_at_idx', ['userId', 'createdAt'])
@Index('images_work_key_id_idx', ['workKey', 'id'], { where: 'work_key IS NOT NULL' })
@Index('images_unverified_idx', ['id'], { where: "verified_at IS NULL AND status = 'original stored'" })
@Index('images_facts_missing_idx', ['id'], { where: 'blurhash IS NULL AND s3_key IS NOT NULL' })
@Unique('images_job_id_step_index_key', ['jobId', 'stepIndex'])
export class Image {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 32, default: IMAGE_STATUS.created })
  status: string;

  /** Several images may share one file (a reused step's output): it goes with the last of them. */
  @Index('images_s3_key_idx', { where: 's3_key IS NOT NULL' })
  @Column({ type: 'varchar', length: 1024, nullable: true })
  s3Key: string | null;

  @Index('images_image_type_id_idx')
  @Column({ type: 'integer', nullable: true })
  imageTypeId: number | null;

  @ManyToOne(() => ImageType, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'image_type_id', foreignKeyConstraintName: 'images_image_type_id_fkey' })
  imageType: ImageType | null;

  @Column({ type: 'integer' })
  userId: number;

  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'images_user_id_fkey' })
  user: User;

  /** The image this one was derived from by a job. */
  @Index('images_original_id_idx')
  @Column({ type: 'integer', nullable: true })
  originalId: number | null;

  @ManyToOne(() => Image, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'original_id', foreignKeyConstraintName: 'images_original_id_fkey' })
  original: Image | null;

  /** After EXIF orientation once the worker has decoded the file; until then, an original's header says it. */
  @Column({ type: 'integer', nullable: true })
  width: number | null;

  @Column({ type: 'integer', nullable: true })
  height: number | null;

  /** The BlurHash of the stored file's pixels (docs/placeholders.md); null until the worker has decoded it. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  blurhash: string | null;

  /** `#rrggbb`; null until the worker has decoded the file. */
  @Column({ type: 'char', length: 7, nullable: true })
  dominantColor: string | null;

  /** The decoder's name for the stored file's format: jpeg, png, webp, gif, tiff, heif (AVIF)… */
  @Column({ type: 'varchar', length: 16, nullable: true })
  format: string | null;

  @Column({ type: 'integer', nullable: true })
  bytes: number | null;

  /** Hex SHA-256 of the stored file. */
  @Column({ type: 'char', length: 64, nullable: true })
  sha256: string | null;

  /** The job whose step made this image, and which step: at most one output per step. */
  @Column({ type: 'integer', nullable: true })
  jobId: number | null;

  @ManyToOne('Job', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'job_id', foreignKeyConstraintName: 'images_job_id_fkey' })
  job: Relation<Job> | null;

  @Column({ type: 'smallint', nullable: true })
  stepIndex: number | null;

  /** What made this output (src/work-reuse/work-key.ts): a step with the same key reuses its file. */
  @Column({ type: 'char', length: 64, nullable: true })
  workKey: string | null;

  /** The decoder's reason, for a `corrupt` image. */
  @Column({ type: 'text', nullable: true })
  corruptReason: string | null;

  /**
   * When the worker first decoded the original whole (or found it corrupt); null until then.
   * Uploads are only checked for structure (docs/upload-check.md).
   */
  @Column({ type: 'timestamptz', nullable: true })
  verifiedAt: Date | null;

  /**
   * When the stored file (`s3_key`) was recorded: the file's Last-Modified. Written by the
   * database alone, a trigger on every insert with a file and every change of `s3_key`
   * (migrations/1797200000000-FileStoredAt.ts), so that no path that records a file (uploads, the
   * worker's outputs, reused work) can leave it behind.
   */
  @Column({ type: 'timestamptz', nullable: true, insert: false, update: false })
  fileStoredAt: Date | null;

  /** Presets to make as soon as the original is stored (an upload named them); kept, not cleared. */
  @Column({ type: 'varchar', length: 64, array: true, default: '{}' })
  eagerPresets: string[];

  /** Loaded by queries that join it: the histogram this image's step computed, if any. */
  histogram?: Histogram | null;

  @Index('images_created_at_idx')
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
