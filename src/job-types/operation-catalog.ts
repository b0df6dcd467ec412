import { DataSource } from 'typeorm';
import { ImageType } from '../image-types/image-type.entity';
import { REDUCERS } from '../pipelines/aggregate-request';
import { operationCatalog } from '../pipelines/operation-catalog';
import { JobType } from './job-type.entity';

/** Uploaded photographs are of this type unless their client says otherwise. */
export const ORIGINAL_IMAGE_TYPE = 'original';

/**
 * Every operation of the catalogue, and every reducer of query and search jobs, is a job type
 * (language `typescript`) and the image type of its outputs. Run at each start, so that adding an
 * operation (its catalogue entry and its file) is all it takes to offer it.
 */
export async function syncOperationCatalog(dataSource: DataSource): Promise<void> {
  const names = [...operationCatalog.names(), ...REDUCERS];
  await dataSource
    .createQueryBuilder()
    .insert()
    .into(JobType)
    .values(names.map((jobName) => ({ jobName, language: 'typescript' })))
    .orIgnore()
    .execute();
  await dataSource
    .createQueryBuilder()
    .insert()
    .into(ImageType)
    .values([ORIGINAL_IMAGE_TYPE, ...names].map((typeName) => ({ typeName })))
    .orIgnore()
    .execute();
}
