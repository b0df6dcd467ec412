import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions instead of one plain-text token per user: a `sessions` table holding only each
 * token's SHA-256. Every user's current `authentication_token` becomes a session (hashed in SQL,
 * the same digest the guard computes: SHA-256 of the token's UTF-8 bytes), so the clients signed in
 * today stay signed in; then the plain-text column and its unique index go.
 */
export class Sessions1795500000000 implements MigrationInterface {
  name = 'Sessions1795500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "sessions" (
                "id" SERIAL NOT NULL,
                "user_id" integer NOT NULL,
                "token_sha256" bytea NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "last_used_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "user_agent" character varying(255),
                "ip" character varying(64),
                CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`CREATE UNIQUE INDEX "sessions_token_sha256_key" ON "sessions" ("token_sha256")`);
    await queryRunner.query(`CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id")`);
    await queryRunner.query(`
            ALTER TABLE "sessions"
            ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            INSERT INTO "sessions" ("user_id", "token_sha256", "created_at", "last_used_at")
            SELECT "id", sha256(convert_to("authentication_token", 'UTF8')), now(), now()
              FROM "users"
             WHERE "authentication_token" IS NOT NULL AND "authentication_token" <> ''
        `);
    await queryRunner.query(`DROP INDEX "users_authentication_token_key"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "authentication_token"`);
  }

  /** Tokens cannot be recovered from their digests: going down signs everyone out. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ADD "authentication_token" character varying(64)`);
    await queryRunner.query(`
            UPDATE "users"
               SET "authentication_token" = replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
        `);
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "authentication_token" SET NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "users_authentication_token_key" ON "users" ("authentication_token")`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "sessions_user_id_fkey"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
  }
}
