import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * users.image_count and users.jobs_count are counter caches. Statement-level triggers keep them
 * exact inside the transaction that inserts, deletes or moves the rows they count, whichever code
 * path (API, worker, bulk load) does it, at one UPDATE per user per statement.
 */
const COUNTER_CACHES = [
  { table: 'images', column: 'image_count' },
  { table: 'jobs', column: 'jobs_count' },
];

export class InitialSchema1795392934373 implements MigrationInterface {
  name = 'InitialSchema1795392934373';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "image_types" (
                "id" SERIAL NOT NULL,
                "type_name" character varying(64) NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_75326571bbf8d8f3df13a64eb10" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "image_types_type_name_key" ON "image_types" ("type_name")
        `);
    await queryRunner.query(`
            CREATE TABLE "users" (
                "id" SERIAL NOT NULL,
                "username" character varying(40) NOT NULL,
                "email" character varying(254) NOT NULL,
                "encrypted_password" character varying(255) NOT NULL,
                "authentication_token" character varying(64) NOT NULL,
                "jobs_count" integer NOT NULL DEFAULT '0',
                "image_count" integer NOT NULL DEFAULT '0',
                "admin" boolean NOT NULL DEFAULT false,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "users_username_key" ON "users" ("username")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "users_email_key" ON "users" ("email")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "users_authentication_token_key" ON "users" ("authentication_token")
        `);
    await queryRunner.query(`
            CREATE TABLE "images" (
                "id" SERIAL NOT NULL,
                "status" character varying(32) NOT NULL DEFAULT 'created',
                "s3_key" character varying(1024),
                "image_type_id" integer,
                "user_id" integer NOT NULL,
                "original_id" integer,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_1fe148074c6a1a91b63cb9ee3c9" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "images_image_type_id_idx" ON "images" ("image_type_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "images_original_id_idx" ON "images" ("original_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "images_created_at_idx" ON "images" ("created_at")
        `);
    await queryRunner.query(`
            CREATE INDEX "images_user_id_created_at_idx" ON "images" ("user_id", "created_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "job_types" (
                "id" SERIAL NOT NULL,
                "job_name" character varying(64) NOT NULL,
                "language" character varying(64),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_87d4226cb676b3b16518977cc7d" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "job_types_job_name_key" ON "job_types" ("job_name")
        `);
    await queryRunner.query(`
            CREATE TABLE "jobs" (
                "id" SERIAL NOT NULL,
                "status" character varying(32) NOT NULL DEFAULT 'queued',
                "environment" text,
                "image_url" character varying(2048),
                "job_type" text array NOT NULL DEFAULT '{}',
                "user_id" integer NOT NULL,
                "image_id" integer,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_cf0a6c42b72fcc7f7c237def345" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "jobs_image_id_idx" ON "jobs" ("image_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "jobs_created_at_idx" ON "jobs" ("created_at")
        `);
    await queryRunner.query(`
            CREATE INDEX "jobs_user_id_created_at_idx" ON "jobs" ("user_id", "created_at")
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD CONSTRAINT "images_image_type_id_fkey" FOREIGN KEY ("image_type_id") REFERENCES "image_types"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD CONSTRAINT "images_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD CONSTRAINT "images_original_id_fkey" FOREIGN KEY ("original_id") REFERENCES "images"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD CONSTRAINT "jobs_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD CONSTRAINT "jobs_image_id_fkey" FOREIGN KEY ("image_id") REFERENCES "images"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            CREATE FUNCTION maintain_user_counter() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                deltas text;
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    deltas := 'SELECT user_id, count(*) AS delta FROM new_rows GROUP BY user_id';
                ELSIF TG_OP = 'DELETE' THEN
                    deltas := 'SELECT user_id, -count(*) AS delta FROM old_rows GROUP BY user_id';
                ELSE
                    deltas := 'SELECT user_id, sum(delta) AS delta FROM ('
                        || 'SELECT user_id, 1 AS delta FROM new_rows '
                        || 'UNION ALL SELECT user_id, -1 FROM old_rows) moves '
                        || 'GROUP BY user_id HAVING sum(delta) <> 0';
                END IF;
                EXECUTE format(
                    'UPDATE users SET %1$I = users.%1$I + d.delta FROM (%2$s) d WHERE users.id = d.user_id',
                    TG_ARGV[0], deltas);
                RETURN NULL;
            END
            $$
        `);
    for (const { table, column } of COUNTER_CACHES) {
      await queryRunner.query(`
                CREATE TRIGGER "${table}_count_insert" AFTER INSERT ON "${table}"
                REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_counter('${column}')
            `);
      await queryRunner.query(`
                CREATE TRIGGER "${table}_count_delete" AFTER DELETE ON "${table}"
                REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_counter('${column}')
            `);
      await queryRunner.query(`
                CREATE TRIGGER "${table}_count_update" AFTER UPDATE ON "${table}"
                REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_counter('${column}')
            `);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const { table } of COUNTER_CACHES) {
      for (const event of ['insert', 'delete', 'update']) {
        await queryRunner.query(`DROP TRIGGER "${table}_count_${event}" ON "${table}"`);
      }
    }
    await queryRunner.query(`DROP FUNCTION maintain_user_counter()`);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP CONSTRAINT "jobs_image_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP CONSTRAINT "jobs_user_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP CONSTRAINT "images_original_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP CONSTRAINT "images_user_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP CONSTRAINT "images_image_type_id_fkey"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."jobs_user_id_created_at_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."jobs_created_at_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."jobs_image_id_idx"
        `);
    await queryRunner.query(`
            DROP TABLE "jobs"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."job_types_job_name_key"
        `);
    await queryRunner.query(`
            DROP TABLE "job_types"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."images_user_id_created_at_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."images_created_at_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."images_original_id_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."images_image_type_id_idx"
        `);
    await queryRunner.query(`
            DROP TABLE "images"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."users_authentication_token_key"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."users_email_key"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."users_username_key"
        `);
    await queryRunner.query(`
            DROP TABLE "users"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."image_types_type_name_key"
        `);
    await queryRunner.query(`
            DROP TABLE "image_types"
        `);
  }
}
