import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Principal } from '../identity/principal';
import { assertBodyIdMatches, invalidField } from '../common/api-errors';
import { findSelected } from '../common/selection/apply-selection';
import { Selection } from '../pipelines/selection';
import { CreateImageTypeDto } from './dto/create-image-type.dto';
import { UpdateImageTypeDto } from './dto/update-image-type.dto';
import { PresetsService } from '../presets/presets.service';
import { ImageType } from './image-type.entity';

/** How many known names an error about an unknown image type lists. */
const MAX_NAMES_SHOWN = 30;

@Injectable()
export class ImageTypesService {
  constructor(
    @InjectRepository(ImageType) private readonly imageTypes: Repository<ImageType>,
    private readonly presets: PresetsService,
  ) {}

  findAll(selection: Selection): Promise<ImageType[]> {
    return findSelected(this.imageTypes, selection);
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

  /** Refuses `name` as the value of `field` unless it names an image type, listing the known ones. */
  async assertExists(name: string, field: string): Promise<void> {
    const names = (await this.imageTypes.find({ select: { id: true, typeName: true }, order: { id: 'ASC' } })).map(
      (imageType) => imageType.typeName,
    );
    if (names.includes(name)) return;
    const shown =
      names.length > MAX_NAMES_SHOWN ? [...names.slice(0, MAX_NAMES_SHOWN), `… (${names.length - MAX_NAMES_SHOWN} more)`] : names;
    throw invalidField(field, `image_type ${JSON.stringify(name)} is not an image type; known: ${shown.join(', ')}`);
  }

  async create(principal: Principal, dto: CreateImageTypeDto): Promise<ImageType> {
    principal.requireAdmin('create image types');
    await this.presets.assertExist(dto.presets ?? [], 'presets');
    return this.imageTypes.save(this.imageTypes.create({ typeName: dto.type_name, presets: dto.presets ?? [] }));
  }

  async update(principal: Principal, id: number, dto: UpdateImageTypeDto): Promise<ImageType> {
    principal.requireAdmin('change image types');
    assertBodyIdMatches(dto.id, id);
    const imageType = await this.findOne(id);
    if (dto.type_name !== undefined) imageType.typeName = dto.type_name;
    if (dto.presets !== undefined) {
      await this.presets.assertExist(dto.presets, 'presets');
      imageType.presets = dto.presets;
    }
    return this.imageTypes.save(imageType);
  }

  async remove(principal: Principal, id: number): Promise<ImageType> {
    principal.requireAdmin('delete image types');
    const imageType = await this.findOne(id);
    await this.imageTypes.delete({ id });
    return imageType;
  }
}
