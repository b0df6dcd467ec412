import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Principal } from '../auth/principal';
import { invalidField } from '../common/api-errors';
import { applySelection } from '../common/selection/apply-selection';
import { Selection } from '../common/selection/selection';
import { ImageType } from '../image-types/image-type.entity';
import { ImageTypesService } from '../image-types/image-types.service';
import { CreateImageDto } from './dto/create-image.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import { Image, IMAGE_STATUS } from './image.entity';

@Injectable()
export class ImagesService {
  constructor(
    @InjectRepository(Image) private readonly images: Repository<Image>,
    private readonly imageTypes: ImageTypesService,
  ) {}

  findAll(principal: Principal, selection: Selection): Promise<Image[]> {
    const scoped = principal.scope(selection);
    const query = this.images.createQueryBuilder('image').leftJoinAndSelect('image.imageType', 'imageType');
    if (scoped.imageType !== null) query.andWhere('imageType.typeName = :typeName', { typeName: scoped.imageType });
    return applySelection(query, scoped).getMany();
  }

  /** An image the caller may see; someone else's is as absent as a missing one. */
  async findOne(principal: Principal, id: number): Promise<Image> {
    const image = await this.images.findOne({ where: { id }, relations: { imageType: true } });
    if (!image || !principal.owns(image.userId)) throw new NotFoundException(`No image with id ${id}`);
    return image;
  }

  async create(principal: Principal, dto: CreateImageDto): Promise<Image> {
    const userId = principal.ownerFor(dto.user_id);
    const imageType = await this.resolveImageType(dto);
    const originalId =
      dto.original_id === undefined ? null : (await this.requireOwned(dto.original_id, userId, 'original_id')).id;
    const saved = await this.images.save(
      this.images.create({ status: IMAGE_STATUS.created, userId, imageType: imageType ?? null, originalId }),
    );
    return this.findOne(principal, saved.id);
  }

  async update(principal: Principal, id: number, dto: UpdateImageDto): Promise<Image> {
    if (dto.id !== undefined && dto.id !== id) throw invalidField('id', `id ${dto.id} does not match the URL's id ${id}`);
    const image = await this.findOne(principal, id);
    if (dto.user_id !== undefined) image.userId = principal.ownerFor(dto.user_id);
    const imageType = await this.resolveImageType(dto);
    if (imageType !== undefined) {
      image.imageType = imageType;
      image.imageTypeId = imageType.id;
    }
    if (dto.original_id !== undefined) {
      if (dto.original_id === id) throw invalidField('original_id', 'An image cannot be derived from itself');
      image.originalId = (await this.requireOwned(dto.original_id, image.userId, 'original_id')).id;
    }
    if (dto.s3_key !== undefined) {
      image.s3Key = dto.s3_key;
      image.status = IMAGE_STATUS.originalStored;
    }
    await this.images.save(image);
    return this.findOne(principal, id);
  }

  async remove(principal: Principal, id: number): Promise<Image> {
    const image = await this.findOne(principal, id);
    await this.images.delete({ id });
    return image;
  }

  /** The image type a body names by `image_type` or `image_type_id`; `undefined` when it names none. */
  private async resolveImageType(dto: CreateImageDto): Promise<ImageType | undefined> {
    if (dto.image_type === undefined && dto.image_type_id === undefined) return undefined;
    const imageType =
      dto.image_type !== undefined
        ? await this.imageTypes.findByName(dto.image_type)
        : await this.imageTypes.findOne(dto.image_type_id!).catch(() => {
            throw invalidField('image_type_id', `There is no image type with id ${dto.image_type_id}`);
          });
    if (dto.image_type_id !== undefined && dto.image_type_id !== imageType.id) {
      throw invalidField('image_type_id', `image_type_id ${dto.image_type_id} is not the id of "${dto.image_type}"`);
    }
    return imageType;
  }

  /** Image `imageId` of user `userId`, named by a body's `field`: refused (422) if it is not theirs. */
  async requireOwned(imageId: number, userId: number, field: string): Promise<Image> {
    const image = await this.images.findOneBy({ id: imageId, userId });
    if (!image) throw invalidField(field, `${field} ${imageId} is not an image of user ${userId}`);
    return image;
  }
}
