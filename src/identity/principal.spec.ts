import { ForbiddenException } from '@nestjs/common';
import { InvalidInputError } from '../pipelines/invalid-input.error';
import { DEFAULT_LIMIT, Selection } from '../pipelines/selection';
import { Principal } from './principal';

const everything: Selection = {
  limit: DEFAULT_LIMIT,
  since: null,
  imageType: null,
  userId: null,
  status: null,
  lane: null,
  afterId: null,
  include: [],
};

describe('Principal', () => {
  const user = Principal.forUser({ id: 7, admin: false });
  const admin = Principal.forUser({ id: 1, admin: true });
  const adminToken = Principal.adminToken();

  it('lets a user own only their records, an admin everyone’s', () => {
    expect(user.owns(7)).toBe(true);
    expect(user.owns(8)).toBe(false);
    expect(admin.owns(8)).toBe(true);
    expect(adminToken.owns(8)).toBe(true);
  });

  it("narrows a user's listing to themself and refuses another user_id", () => {
    expect(user.scope(everything).userId).toBe(7);
    expect(user.scope({ ...everything, userId: 7 }).userId).toBe(7);
    expect(() => user.scope({ ...everything, userId: 8 })).toThrow(ForbiddenException);
    expect(admin.scope({ ...everything, userId: 8 }).userId).toBe(8);
    expect(adminToken.scope(everything).userId).toBeNull();
  });

  it('makes the caller the owner of what they create unless an admin names someone', () => {
    expect(user.ownerFor(undefined)).toBe(7);
    expect(user.ownerFor(7)).toBe(7);
    expect(() => user.ownerFor(8)).toThrow(ForbiddenException);
    expect(admin.ownerFor(8)).toBe(8);
    expect(() => adminToken.ownerFor(undefined)).toThrow(InvalidInputError);
  });

  it('refuses admin-only actions to users', () => {
    expect(() => user.requireAdmin('create image types')).toThrow('Only an admin may create image types');
    expect(() => adminToken.requireAdmin('create image types')).not.toThrow();
  });
});
