import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { ADMIN_FIELDS, ADMIN_ONLY } from '../identity/admin-only.decorator';
import { SessionsService } from '../sessions/sessions.service';
import { csrfTokenMatches, CSRF_HEADER, IS_COOKIE_AUTH, sameOrigin, sessionCookieOf } from './cookie-session';
import { bearerPrincipal, bearerToken } from './bearer';
import { tokenDigest } from '../identity/credentials';
import { AuthenticatedRequest } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { IS_PUBLIC } from '../identity/public.decorator';

/** Methods that change nothing, so a cookie alone may authenticate them. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Every route needs `Authorization: Bearer <token>` unless it is marked @Public(). Routes marked
 * @CookieAuth() also take the session cookie; a cookie is sent by the browser on its own, so a
 * request it authenticates that may change something must also come from this origin and carry
 * the session's CSRF token.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  /** ADMIN_TOKEN's digest, made once: a request then hashes only its own token, once. */
  private readonly adminDigest: Buffer | null;

  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
    config: AppConfig,
  ) {
    this.adminDigest = config.ADMIN_TOKEN ? tokenDigest(config.ADMIN_TOKEN) : null;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    const cookie = sessionCookieOf(request);
    if (!header && cookie && this.reflector.getAllAndOverride<boolean>(IS_COOKIE_AUTH, [context.getHandler(), context.getClass()])) {
      request.principal = await this.authenticateCookie(request, cookie);
    } else {
      if (!header) {
        throw this.unauthorized('Missing credentials: send the header "Authorization: Bearer <authentication_token>"');
      }
      request.principal = await bearerPrincipal(bearerToken(header), this.adminDigest, this.sessions);
    }
    if (!request.principal.isAdmin) this.refuseAdminWork(context, request);
    return true;
  }

  /**
   * A non-admin calling an admin-only route (@AdminOnly) or sending an admin-only field
   * (@AdminFields) is refused here: guards run before the pipes that check the body, so the 403
   * comes first, whatever the body.
   */
  private refuseAdminWork(context: ExecutionContext, request: AuthenticatedRequest): void {
    const targets = [context.getHandler(), context.getClass()];
    const action = this.reflector.getAllAndOverride<string | undefined>(ADMIN_ONLY, targets);
    if (action) throw new ForbiddenException(`Only an admin may ${action}`);
    const fields = this.reflector.getAllAndOverride<Record<string, string> | undefined>(ADMIN_FIELDS, targets);
    const body: unknown = request.body;
    if (!fields || typeof body !== 'object' || body === null) return;
    const sent = Object.entries(fields).find(([field]) => (body as Record<string, unknown>)[field] !== undefined);
    if (sent) throw new ForbiddenException(`Only an admin may ${sent[1]}`);
  }

  private async authenticateCookie(request: AuthenticatedRequest, token: string): Promise<Principal> {
    if (!SAFE_METHODS.has(request.method)) {
      if (!sameOrigin(request))
        throw new ForbiddenException(`Cross-origin request refused: Origin ${request.headers.origin} is not this server`);
      const given = request.headers[CSRF_HEADER];
      if (!csrfTokenMatches(token, typeof given === 'string' ? given : undefined)) {
        throw new ForbiddenException(
          'Missing or wrong CSRF token: a request signed in by cookie must send the X-CSRF-Token header its page gives',
        );
      }
    }
    const session = await this.sessions.authenticate(token);
    if (!session) throw this.unauthorized('Your session has ended: sign in again');
    return Principal.forUser({ id: session.userId, admin: session.admin }, session.sessionId);
  }

  private unauthorized(message: string): UnauthorizedException {
    return new UnauthorizedException(message);
  }
}
