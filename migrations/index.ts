import { InitialSchema1795392934373 } from './1795392934373-InitialSchema';

/** Every migration, in order. `npm run migration:generate` writes new ones; list them here. */
export const migrations = [InitialSchema1795392934373];
