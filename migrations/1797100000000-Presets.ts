import { MigrationInterface, QueryRunner } from 'typeorm';

/** The presets every installation starts with; admins change or delete them like any other. */
const SEEDED_PRESETS: { name: string; description: string; jobType: string[]; params: Record<string, object> }[] = [
  {
    name: 'thumb_256',
    description: '256-pixel WebP thumbnail for lists and grids',
    jobType: ['process', 'thumbnail', 'convert'],
    params: { convert: { format: 'webp', quality: 80 } },
  },
  {
    name: 'medium_1024',
    description: 'Fits within 1024×1024, in the best format the client accepts',
    jobType: ['process', 'resize', 'convert'],
    params: { resize: { width: 1024, height: 1024, fit: 'inside' }, convert: { format: 'auto', quality: 80 } },
  },
  {
    name: 'large_2048',
    description: 'Fits within 2048×2048 for full-screen viewing, in the best format the client accepts',
    jobType: ['process', 'resize', 'convert'],
    params: { resize: { width: 2048, height: 2048, fit: 'inside' }, convert: { format: 'auto', quality: 82 } },
  },
  {
    name: 'square_512',
    description: '512×512 square crop for cards, in the best format the client accepts',
    jobType: ['process', 'resize', 'convert'],
    params: { resize: { width: 512, height: 512, fit: 'cover' }, convert: { format: 'auto', quality: 80 } },
  },
  {
    name: 'avatar_128',
    description: '128×128 square crop for avatars, in the best format the client accepts',
    jobType: ['process', 'resize', 'convert'],
    params: { resize: { width: 128, height: 128, fit: 'cover' }, convert: { format: 'auto', quality: 75 } },
  },
  {
    name: 'gray_1024',
    description: 'Grayscale, fitting within 1024×1024, as JPEG',
    jobType: ['process', 'grayscale', 'resize', 'convert'],
    params: { resize: { width: 1024, height: 1024, fit: 'inside' }, convert: { format: 'jpeg', quality: 85 } },
  },
];

/**
 * Presets: named transformations, the steps of a process job, that GET
 * /api/images/:id/derivatives/:name applies to an image. `derivatives` finds the job that made (or
 * is making) an image's derivative by the image and the hash of the steps as resolved for the
 * request (src/work-reuse/work-key.ts, stepsKey), not by the preset's name: a preset changed
 * gives new keys, so what its earlier steps made is never served for the new ones. Its primary
 * key is what makes concurrent first requests on any API node share one job: the first to insert
 * the row holds its `claim` while it creates the job, the others wait for `job_id`.
 */
export class Presets1797100000000 implements MigrationInterface {
  name = 'Presets1797100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "presets" (
                "id" SERIAL NOT NULL,
                "name" character varying(64) NOT NULL,
                "description" text,
                "job_type" text array NOT NULL,
                "params" jsonb NOT NULL DEFAULT '{}',
                "created_at" timestamptz NOT NULL DEFAULT now(),
                "updated_at" timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT "presets_pkey" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`CREATE UNIQUE INDEX "presets_name_key" ON "presets" ("name")`);
    await queryRunner.query(`
            CREATE TABLE "derivatives" (
                "image_id" integer NOT NULL,
                "steps_key" character varying(64) NOT NULL,
                "job_id" integer,
                "claim" uuid,
                "claimed_at" timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT "derivatives_pkey" PRIMARY KEY ("image_id", "steps_key"),
                CONSTRAINT "derivatives_image_id_fkey" FOREIGN KEY ("image_id") REFERENCES "images"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
                CONSTRAINT "derivatives_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE NO ACTION
            )
        `);
    await queryRunner.query(`CREATE INDEX "derivatives_job_id_idx" ON "derivatives" ("job_id")`);
    for (const preset of SEEDED_PRESETS) {
      await queryRunner.query(`INSERT INTO "presets" ("name", "description", "job_type", "params") VALUES ($1, $2, $3, $4)`, [
        preset.name,
        preset.description,
        preset.jobType,
        JSON.stringify(preset.params),
      ]);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "derivatives"`);
    await queryRunner.query(`DROP TABLE "presets"`);
  }
}
