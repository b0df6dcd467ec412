import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity('image_types')
export class ImageType {
  @PrimaryGeneratedColumn()
  id: number;

  @Index('image_types_type_name_key', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  typeName: string;

  /** Presets made as soon as an image of this type has its original stored. */
  @Column({ type: 'varchar', length: 64, array: true, default: '{}' })
  presets: string[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
