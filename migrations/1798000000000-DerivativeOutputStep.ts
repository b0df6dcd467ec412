import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which step of its job makes a derivative: one job of branches makes several of an image's
 * derivatives (eager presets), each the output of its branch's last step, no longer the job's
 * last. Null, as every existing row and the rows of nodes of the previous release during a
 * rolling upgrade have it, means the job's last step, which is what those jobs make.
 */
export class DerivativeOutputStep1798000000000 implements MigrationInterface {
  name = 'DerivativeOutputStep1798000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "derivatives" ADD "output_step" smallint`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "derivatives" DROP COLUMN "output_step"`);
  }
}
