import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Principal } from '../auth/principal';
import { assertBodyIdMatches, invalidField } from '../common/api-errors';
import { applySelection } from '../common/selection/apply-selection';
import { Selection } from '../pipelines/selection';
import { CreateImageTypeDto } from './dto/create-image-type.dto';
import { UpdateImageTypeDto } from './dto/update-image-type.dto';
import { ImageType } from './image-type.entity';

@Injectable()
export class ImageTypesService {
  constructor(@InjectRepository(ImageType) private readonly imageTypes: Repository<ImageType>) {}

  findAll(selection: Selection): Promise<ImageType[]> {
    return applySelection(this.imageTypes.createQueryBuilder('imageType'), selection).getMany();
  }

  async findOne(id: number): Promise<ImageType> {
    const imageType = await this.imageTypes.findOneBy({ id });
    if (!imageType) throw new NotFoundException(`No image type with id ${id}`);
    return imageType;
  }

  /** The image type called `name`, refused as the value of `field` when there is none. */
  async findByName(name: string, field = 'image_type'): Promise<ImageType> {
    const imageType = await this.imageTypes.findOneBy({ typeName: name });
    if (!imageType) throw invalidField(field, `There is no image type named ${JSON.stringify(name)}`);
    return imageType;
  }

  create(principal: Principal, dto: CreateImageTypeDto): Promise<ImageType> {
    principal.requireAdmin('create image types');
    return this.imageTypes.save(this.imageTypes.create({ typeName: dto.type_name }));
  }

  async update(principal: Principal, id: number, dto: UpdateImageTypeDto): Promise<ImageType> {
    principal.requireAdmin('change image types');
    assertBodyIdMatches(dto.id, id);
    const imageType = await this.findOne(id);
    if (dto.type_name !== undefined) imageType.typeName = dto.type_name;
    return this.imageTypes.save(imageType);
  }

  async remove(principal: Principal, id: number): Promise<ImageType> {
    principal.requireAdmin('delete image types');
    const imageType = await this.findOne(id);
    await this.imageTypes.delete({ id });
    return imageType;
  }
}
