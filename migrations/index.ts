import { InitialSchema1795392934373 } from './1795392934373-InitialSchema';
import { Pipelines1795394272569 } from './1795394272569-Pipelines';
import { JobResults1795396209979 } from './1795396209979-JobResults';
import { PackedHistograms1795396645119 } from './1795396645119-PackedHistograms';
import { JobLifecycle1795400000000 } from './1795400000000-JobLifecycle';
import { Sessions1795500000000 } from './1795500000000-Sessions';
import { Quotas1795500000001 } from './1795500000001-Quotas';
import { JobEvents1796210944478 } from './1796210944478-JobEvents';
import { ReusedWork1796400000000 } from './1796400000000-ReusedWork';
import { Webhooks1796500000000 } from './1796500000000-Webhooks';
import { AuthCache1796500000003 } from './1796500000003-AuthCache';
import { WorkKeyOrder1796600000000 } from './1796600000000-WorkKeyOrder';
import { ImageDecodeCheck1796700000001 } from './1796700000001-ImageDecodeCheck';
import { UsageDeltas1796700000002 } from './1796700000002-UsageDeltas';
import { JobEventOutbox1796700000003 } from './1796700000003-JobEventOutbox';
import { WorkerWrites1796700000004 } from './1796700000004-WorkerWrites';
import { RateLimitCounters1796800000000 } from './1796800000000-RateLimitCounters';
import { StorageIdentity1796800000001 } from './1796800000001-StorageIdentity';
import { FairQueues1796900000000 } from './1796900000000-FairQueues';
import { JobStarts1796910000000 } from './1796910000000-JobStarts';
import { Placeholders1797000000000 } from './1797000000000-Placeholders';
import { Presets1797100000000 } from './1797100000000-Presets';
import { FileStoredAt1797200000000 } from './1797200000000-FileStoredAt';
import { UrlSigningKey1797300000000 } from './1797300000000-UrlSigningKey';
import { EagerPresets1797400000000 } from './1797400000000-EagerPresets';
import { IdempotencyKeys1797500000000 } from './1797500000000-IdempotencyKeys';
import { SyncChanges1797600000000 } from './1797600000000-SyncChanges';
import { Uploads1797700000000 } from './1797700000000-Uploads';
import { HistogramChangeFeed1797800000000 } from './1797800000000-HistogramChangeFeed';
import { HistogramSnapshotWrites1797900000000 } from './1797900000000-HistogramSnapshotWrites';
import { DerivativeOutputStep1798000000000 } from './1798000000000-DerivativeOutputStep';

/** Every migration, in order. `npm run migration:generate` writes new ones; list them here. */
export const migrations = [
  InitialSchema1795392934373,
  Pipelines1795394272569,
  JobResults1795396209979,
  PackedHistograms1795396645119,
  JobLifecycle1795400000000,
  Sessions1795500000000,
  Quotas1795500000001,
  JobEvents1796210944478,
  ReusedWork1796400000000,
  Webhooks1796500000000,
  AuthCache1796500000003,
  WorkKeyOrder1796600000000,
  ImageDecodeCheck1796700000001,
  UsageDeltas1796700000002,
  JobEventOutbox1796700000003,
  WorkerWrites1796700000004,
  RateLimitCounters1796800000000,
  StorageIdentity1796800000001,
  FairQueues1796900000000,
  JobStarts1796910000000,
  Placeholders1797000000000,
  Presets1797100000000,
  FileStoredAt1797200000000,
  UrlSigningKey1797300000000,
  EagerPresets1797400000000,
  IdempotencyKeys1797500000000,
  SyncChanges1797600000000,
  Uploads1797700000000,
  HistogramChangeFeed1797800000000,
  HistogramSnapshotWrites1797900000000,
  DerivativeOutputStep1798000000000,
];
