import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { ImageType } from '../image-types/image-type.entity';
import { User } from '../users/user.entity';

export const IMAGE_STATUS = {
  created: 'created',
  originalStored: 'original stored',
  processed: 'processed',
} as const;

@Entity('images')
@Index('images_user_id_created_at_idx', ['userId', 'createdAt'])
export class Image {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 32, default: IMAGE_STATUS.created })
  status: string;

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

  @Index('images_created_at_idx')
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
