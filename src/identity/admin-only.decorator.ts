import { SetMetadata } from '@nestjs/common';

export const ADMIN_ONLY = 'darkroom:admin-only';
export const ADMIN_FIELDS = 'darkroom:admin-fields';

/**
 * Marks a route only admins may call; `action` completes "Only an admin may …". The auth guard
 * refuses anyone else with 403 before the body is checked: a caller who may not do this at all
 * learns that first, rather than how their body is wrong.
 */
export const AdminOnly = (action: string) => SetMetadata(ADMIN_ONLY, action);

/**
 * Marks the body fields of a route that only admins may send, each with the action it stands for
 * ("grant or revoke admin"): the auth guard refuses anyone else who sends one, before the body is
 * checked. The service still checks the same, for its other callers.
 */
export const AdminFields = (fields: Record<string, string>) => SetMetadata(ADMIN_FIELDS, fields);
