import { within } from '../common/within';
import { ConfigError } from '../config/app-config';
import type { InstallationRepository, StorageClaim } from '../database/installation.repository';
import { StorageDriver, StorageObjectNotFoundError } from './storage.driver';

/** The object that says which installation a file store belongs to; its body is that id. */
export const INSTALLATION_MARKER_KEY = 'darkroom-installation.json';

/** A node that must not serve: its file store is not the installation's. Start-up stops with the message. */
export class StorageIdentityError extends ConfigError {
  override name = 'StorageIdentityError';
}

/**
 * The store did not answer (down, or a dropped network): whose it is cannot be told now. Not a
 * reason to refuse to start: readiness reports the store down until it answers, as for any outage.
 */
export class StorageUnreachableError extends Error {
  override name = 'StorageUnreachableError';
}

/** How long the start-up check waits for the store: a hung store must not hang the start. */
const CHECK_TIMEOUT_MS = 5000;

export interface ConfiguredStorage {
  kind: 'local' | 's3';
  /** The S3 bucket; null for local storage. */
  location: string | null;
  /** Where this node's files are, for messages: a directory or `s3://bucket`. */
  describe: string;
}

/**
 * Refuses a node that cannot see the installation's files, before it takes a request or a job.
 * The first process to start records the store's kind and bucket in the database and writes the
 * installation id into the store; every later one must be configured alike and find that marker.
 * So a worker on another machine with STORAGE=local, or one pointed at another bucket, fails at
 * start naming the setting, instead of failing every job it takes. Nodes starting at once take
 * turns (InstallationRepository.whileClaimingStorage).
 */
export function verifyStorageIdentity(
  storage: StorageDriver,
  installations: InstallationRepository,
  configured: ConfiguredStorage,
): Promise<void> {
  return installations.whileClaimingStorage((claims) => verifyUnderLock(storage, claims, configured));
}

async function verifyUnderLock(
  storage: StorageDriver,
  installations: InstallationRepository,
  configured: ConfiguredStorage,
): Promise<void> {
  let claim = await installations.storageClaim();
  assertSameStore(claim, configured);
  const marker = await readMarker(storage, configured);
  if (marker !== null && marker !== claim.installationId) {
    throw new StorageIdentityError(
      `The file store ${configured.describe} belongs to another Darkroom installation (${marker}), not to this database's ` +
        `(${claim.installationId}): point ${settingsOf(configured.kind)} at this installation's files, or DATABASE_URL at that installation's database`,
    );
  }
  if (marker !== null) return;
  if (claim.kind !== null) {
    throw new StorageIdentityError(
      `The file store ${configured.describe} lacks this installation's marker (${INSTALLATION_MARKER_KEY}): this node does not ` +
        `see the files the other nodes wrote. ${
          configured.kind === 'local'
            ? 'With STORAGE=local every node must have the same DATA_DIR (one shared directory); on several machines use STORAGE=s3'
            : 'Check S3_ENDPOINT and S3_BUCKET: they must name the store the other nodes use'
        }`,
    );
  }
  await within(
    storage.put(INSTALLATION_MARKER_KEY, Buffer.from(claim.installationId), 'application/json'),
    CHECK_TIMEOUT_MS,
    `The file store ${configured.describe}`,
  ).catch((error: Error) => {
    throw new StorageUnreachableError(`The file store ${configured.describe} cannot be written: ${error.message}`, { cause: error });
  });
  claim = await installations.claimStorage(configured.kind, configured.location);
  assertSameStore(claim, configured);
}

function assertSameStore(claim: StorageClaim, configured: ConfiguredStorage): void {
  if (claim.kind === null || (claim.kind === configured.kind && claim.location === configured.location)) return;
  const recorded = claim.kind === 's3' ? `STORAGE=s3 with S3_BUCKET=${claim.location}` : `STORAGE=${claim.kind}`;
  const here = configured.kind === 's3' ? `STORAGE=s3 with S3_BUCKET=${configured.location}` : `STORAGE=${configured.kind}`;
  throw new StorageIdentityError(
    `This installation keeps its files with ${recorded}, but this node has ${here}: set ${settingsOf(claim.kind)} as on the installation's other nodes`,
  );
}

async function readMarker(storage: StorageDriver, configured: ConfiguredStorage): Promise<string | null> {
  let body;
  try {
    body = await within(storage.get(INSTALLATION_MARKER_KEY), CHECK_TIMEOUT_MS, `The file store ${configured.describe}`);
  } catch (error) {
    if (error instanceof StorageObjectNotFoundError) return null;
    throw new StorageUnreachableError(`The file store ${configured.describe} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

function settingsOf(kind: string): string {
  return kind === 's3' ? 'STORAGE, S3_ENDPOINT and S3_BUCKET' : 'STORAGE and DATA_DIR';
}
