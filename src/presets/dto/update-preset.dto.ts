import { PartialType } from '@nestjs/swagger';
import { CreatePresetDto } from './create-preset.dto';

/**
 * Any field of a preset. Given steps replace its steps whole: job_type and params go together,
 * params absent then meaning none. Derivatives made by the earlier steps are never served for the
 * new ones.
 */
export class UpdatePresetDto extends PartialType(CreatePresetDto) {}
