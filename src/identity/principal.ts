import { ForbiddenException } from '@nestjs/common';
import { invalidField } from '../common/api-errors';
import { Selection } from '../pipelines/selection';

/** Who is calling: a user (perhaps an admin), or whoever holds ADMIN_TOKEN (an admin with no user). */
export class Principal {
  private constructor(
    readonly userId: number | null,
    readonly isAdmin: boolean,
    /** The session whose token authenticated this request (null for ADMIN_TOKEN). */
    readonly sessionId: number | null = null,
  ) {}

  static forUser(user: { id: number; admin: boolean }, sessionId: number | null = null): Principal {
    return new Principal(user.id, user.admin, sessionId);
  }

  static adminToken(): Principal {
    return new Principal(null, true, null);
  }

  /** Whether this caller may see and change records owned by `userId`. */
  owns(userId: number): boolean {
    return this.isAdmin || this.userId === userId;
  }

  /** Restricts a query to the caller's own records unless the caller is an admin. */
  ownerFilter(): number | null {
    return this.isAdmin ? null : this.userId;
  }

  /** Narrows an index selection to the caller's own records unless the caller is an admin. */
  scope(selection: Selection): Selection {
    if (this.isAdmin) return selection;
    if (selection.userId !== null && selection.userId !== this.userId) {
      throw new ForbiddenException('You may list only your own records: user_id must be your own id');
    }
    return { ...selection, userId: this.userId };
  }

  /**
   * The owner of a record this caller creates: the caller, unless an admin names someone else.
   * A user naming another user is refused rather than silently corrected.
   */
  ownerFor(requestedUserId: number | undefined): number {
    if (requestedUserId === undefined) {
      if (this.userId === null) throw invalidField('user_id', 'user_id is required when acting with ADMIN_TOKEN');
      return this.userId;
    }
    if (!this.owns(requestedUserId)) {
      throw new ForbiddenException('You may only create or move records for your own user_id');
    }
    return requestedUserId;
  }

  requireAdmin(action: string): void {
    if (!this.isAdmin) throw new ForbiddenException(`Only an admin may ${action}`);
  }
}
