import { Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { hashPassword, verifyPasswordOrDummy } from '../identity/credentials';
import { Principal } from '../identity/principal';
import { AppConfig } from '../config/app-config';
import { assertBodyIdMatches } from '../common/api-errors';
import { Selection } from '../pipelines/selection';
import { QuotaUsage, quotaDefaults, quotaUsageOf } from '../quotas/quotas';
import { SessionOrigin, SessionsService } from '../sessions/sessions.service';
import { FileReferences } from '../storage/file-references';
import { CreateUserDto } from './dto/create-user.dto';
import { UpdateUserDto } from './dto/update-user.dto';
import { User } from './user.entity';
import { retryOnDeadlock } from '../database/retry-on-deadlock';
import { isFirstAccount, listUsers, storedKeysOf } from './user.repository';

/** The one answer to a refused sign-in, whatever was wrong. */
export const WRONG_LOGIN = 'Wrong username, email or password';

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly files: FileReferences,
    private readonly config: AppConfig,
    private readonly sessions: SessionsService,
  ) {}

  /**
   * Signs a user up. The very first account of an installation without ADMIN_TOKEN becomes the
   * admin, as Immich's first sign-up does, so a default start has someone who can grant admin.
   * Only the first: an installation whose admins were later removed does not hand admin to the
   * next stranger who signs up (`npm run admin` is the way back). Sign-ups take turns under a
   * transaction-scoped advisory lock, and each looks for other accounts only once it holds it (a
   * statement's snapshot in READ COMMITTED is taken after the lock is granted), so two concurrent
   * first sign-ups never both become admin.
   *
   * The new account's first session is made in the same transaction; its bearer token is answered
   * here and stored nowhere.
   */
  async create(dto: CreateUserDto, origin: SessionOrigin = {}): Promise<{ user: User; token: string }> {
    const user = this.users.create({
      username: dto.username,
      email: dto.email,
      encryptedPassword: await hashPassword(dto.password),
    });
    // Computed when a user is loaded (User's virtual columns); a new user has nothing yet.
    Object.assign(user, { jobsCountNow: 0, imageCountNow: 0, storageBytesNow: 0 });
    return this.users.manager.transaction(async (manager) => {
      if (!this.config.ADMIN_TOKEN) user.admin = await isFirstAccount(manager);
      const saved = await manager.save(user);
      return { user: saved, token: await this.sessions.create(saved.id, origin, manager) };
    });
  }

  findAll(principal: Principal, selection: Selection): Promise<User[]> {
    return listUsers(this.users.manager, principal.ownerFilter(), selection);
  }

  /** A user record, if the caller may see it; someone else's is as absent as a missing one. */
  async findOne(principal: Principal, id: number): Promise<User> {
    const user = principal.owns(id) ? await this.users.findOneBy({ id }) : null;
    if (!user) throw new NotFoundException(`No user with id ${id}`);
    return user;
  }

  /**
   * The caller's own user record. ADMIN_TOKEN acts as an admin but is no user, so it has no "me":
   * 404, as for any user id it cannot name.
   */
  async me(principal: Principal): Promise<User> {
    if (principal.userId === null) throw new NotFoundException('ADMIN_TOKEN is no user: it has no "me"');
    return this.findOne(principal, principal.userId);
  }

  /** The user's usage and effective limits, as GET /api/users/:id shows them. */
  quotaOf(user: User): Promise<QuotaUsage> {
    return quotaUsageOf(this.users.manager, user, quotaDefaults(this.config));
  }

  async update(principal: Principal, id: number, dto: UpdateUserDto): Promise<User> {
    assertBodyIdMatches(dto.id, id);
    if (dto.admin !== undefined) principal.requireAdmin('grant or revoke admin');
    if (dto.max_jobs_in_progress !== undefined || dto.max_storage_bytes !== undefined) principal.requireAdmin('change quotas');
    const user = await this.findOne(principal, id);
    if (dto.username !== undefined) user.username = dto.username;
    if (dto.email !== undefined) user.email = dto.email;
    if (dto.admin !== undefined) user.admin = dto.admin;
    if (dto.max_jobs_in_progress !== undefined) user.maxJobsInProgress = dto.max_jobs_in_progress;
    if (dto.max_storage_bytes !== undefined) user.maxStorageBytes = dto.max_storage_bytes;
    if (dto.password === undefined) {
      const saved = await this.users.save(user);
      if (dto.admin !== undefined) this.sessions.forgetCached(id);
      return saved;
    }
    user.encryptedPassword = await hashPassword(dto.password);
    // A new password ends every other session of the user: whoever changed it stays signed in
    // (an admin changing someone else's password, or ADMIN_TOKEN, ends all of theirs).
    const keep = principal.userId === id ? principal.sessionId : null;
    const saved = await this.users.manager.transaction(async (manager) => {
      const saved = await manager.save(user);
      await this.sessions.endAllOf(id, keep, manager);
      return saved;
    });
    this.sessions.forgetCached(id);
    return saved;
  }

  /** Deletes the user, their images and jobs (by the foreign keys' cascade), then their files that no other user's image shares. */
  async remove(principal: Principal, id: number): Promise<User> {
    const user = await this.findOne(principal, id);
    const files = await storedKeysOf(this.users.manager, id);
    await retryOnDeadlock(() => this.users.delete({ id }));
    this.sessions.forgetCached(id);
    await this.files.release(files);
    return user;
  }

  /**
   * Checks a password against the account named by username or email. An unknown login and a
   * wrong password are refused alike, with the same 401 and body, and take the same time: with no
   * account, the password is checked against a dummy bcrypt hash of the same cost.
   */
  async authenticate(login: { username?: string; email?: string }, password: string): Promise<User> {
    const user = login.username
      ? await this.users.findOneBy({ username: login.username })
      : await this.users.findOneBy({ email: login.email ?? '' });
    if (!(await verifyPasswordOrDummy(user?.encryptedPassword ?? null, password))) {
      throw new UnauthorizedException(WRONG_LOGIN);
    }
    return user!;
  }
}
