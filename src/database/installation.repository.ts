import { DataSource, EntityManager, IsNull } from 'typeorm';
import { AdvisoryLock } from './advisory-locks';
import { Installation } from './installation.entity';

export interface StorageClaim {
  installationId: string;
  kind: string | null;
  location: string | null;
}

/** The installation row: its id, and which file store it uses. */
export class InstallationRepository {
  constructor(private readonly dataSource: DataSource | EntityManager) {}

  /**
   * Runs `work` holding the installation's storage-claim lock, with this repository on the lock's
   * own connection: nodes starting at once check and write the store's marker one at a time, so
   * that none reads a marker another is still writing (an S3 server need not make a PUT atomic).
   */
  async whileClaimingStorage<T>(work: (installations: InstallationRepository) => Promise<T>): Promise<T> {
    const dataSource = this.dataSource instanceof DataSource ? this.dataSource : this.dataSource.connection;
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.StorageClaim]);
      try {
        return await work(new InstallationRepository(runner.manager));
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.StorageClaim]);
      }
    } finally {
      await runner.release();
    }
  }

  async id(): Promise<string> {
    return (await this.first()).id;
  }

  /** The installation's own URL-signing key (the column is left out of ordinary reads). */
  async urlSigningKey(): Promise<string> {
    const row = await this.dataSource
      .getRepository(Installation)
      .createQueryBuilder('installation')
      .select('installation.urlSigningKey', 'key')
      .orderBy('installation.createdAt', 'ASC')
      .limit(1)
      .getRawOne<{ key: string }>();
    if (!row) throw new Error('The database has no installation id: run the migrations first');
    return row.key;
  }

  async storageClaim(): Promise<StorageClaim> {
    const installation = await this.first();
    return { installationId: installation.id, kind: installation.storageKind, location: installation.storageLocation };
  }

  /** Records the store unless a process recorded one first; answers what is recorded either way. */
  async claimStorage(kind: string, location: string | null): Promise<StorageClaim> {
    const { id } = await this.first();
    await this.dataSource
      .getRepository(Installation)
      .update({ id, storageKind: IsNull() }, { storageKind: kind, storageLocation: location });
    return this.storageClaim();
  }

  private async first(): Promise<Installation> {
    const [installation] = await this.dataSource.getRepository(Installation).find({ order: { createdAt: 'ASC' }, take: 1 });
    if (!installation) throw new Error('The database has no installation id: run the migrations first');
    return installation;
  }
}
