import { DataSource, IsNull } from 'typeorm';
import { Installation } from './installation.entity';

export interface StorageClaim {
  installationId: string;
  kind: string | null;
  location: string | null;
}

/** The installation row: its id, and which file store it uses. */
export class InstallationRepository {
  constructor(private readonly dataSource: DataSource) {}

  async id(): Promise<string> {
    return (await this.first()).id;
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
