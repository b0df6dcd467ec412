import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The session cache of each API process (AUTH_CACHE_SECONDS) is cleared at once, in every
 * process, by these triggers: on commit, PostgreSQL delivers their notices on `darkroom_auth`.
 *
 * - Sessions deleted (sign-out, a session ended, a password change, a user deleted, the sweep of
 *   expired ones): one notice per statement, `s:<ids>`, or `*` when the ids would not fit in a
 *   notice (8000 bytes), which clears everything: a sweep of many sessions costs one notice.
 * - A session's token or owner changed (nothing does so today; it would change what the token
 *   grants): `s:<id>`.
 * - A user deleted, or their admin flag changed: `u:<id>`. Other changes of users (a quota, an
 *   email) do not fire: the WHEN clause leaves them out before any function is called.
 *
 * last_used_at, which moves once a minute per session in use, fires nothing.
 */
export class AuthCache1796500000003 implements MigrationInterface {
  name = 'AuthCache1796500000003';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE FUNCTION notify_sessions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                ids text;
            BEGIN
                SELECT string_agg(id::text, ',') INTO ids FROM gone;
                IF ids IS NOT NULL THEN
                    PERFORM pg_notify('darkroom_auth', CASE WHEN octet_length(ids) > 7900 THEN '*' ELSE 's:' || ids END);
                END IF;
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "sessions_auth_delete" AFTER DELETE ON "sessions"
            REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION notify_sessions_deleted()
        `);
    await queryRunner.query(`
            CREATE FUNCTION notify_auth_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('darkroom_auth', TG_ARGV[0] || ':' || OLD.id);
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "sessions_auth_update" AFTER UPDATE OF "token_sha256", "user_id" ON "sessions"
            FOR EACH ROW WHEN (OLD.token_sha256 IS DISTINCT FROM NEW.token_sha256 OR OLD.user_id IS DISTINCT FROM NEW.user_id)
            EXECUTE FUNCTION notify_auth_row_changed('s')
        `);
    await queryRunner.query(`
            CREATE TRIGGER "users_auth_update" AFTER UPDATE OF "admin" ON "users"
            FOR EACH ROW WHEN (OLD.admin IS DISTINCT FROM NEW.admin)
            EXECUTE FUNCTION notify_auth_row_changed('u')
        `);
    await queryRunner.query(`
            CREATE TRIGGER "users_auth_delete" AFTER DELETE ON "users"
            FOR EACH ROW EXECUTE FUNCTION notify_auth_row_changed('u')
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "users_auth_delete" ON "users"`);
    await queryRunner.query(`DROP TRIGGER "users_auth_update" ON "users"`);
    await queryRunner.query(`DROP TRIGGER "sessions_auth_update" ON "sessions"`);
    await queryRunner.query(`DROP FUNCTION notify_auth_row_changed()`);
    await queryRunner.query(`DROP TRIGGER "sessions_auth_delete" ON "sessions"`);
    await queryRunner.query(`DROP FUNCTION notify_sessions_deleted()`);
  }
}
