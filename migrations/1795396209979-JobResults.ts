import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobResults1795396209979 implements MigrationInterface {
  name = 'JobResults1795396209979';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "result" jsonb
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "result"
        `);
  }
}
