import { timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { UsersService } from '../users/users.service';
import { AuthenticatedRequest } from './current-principal.decorator';
import { Principal } from './principal';
import { IS_PUBLIC } from './public.decorator';

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i;

/** Every route needs `Authorization: Bearer <token>` unless it is marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly adminToken: Buffer | null;

  constructor(
    private readonly reflector: Reflector,
    private readonly users: UsersService,
    config: AppConfig,
  ) {
    this.adminToken = config.ADMIN_TOKEN ? Buffer.from(config.ADMIN_TOKEN) : null;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    if (!header) {
      throw this.unauthorized('Missing credentials: send the header "Authorization: Bearer <authentication_token>"');
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) {
      throw this.unauthorized('Malformed Authorization header: expected "Bearer <authentication_token>"');
    }
    request.principal = await this.authenticate(token);
    return true;
  }

  private async authenticate(token: string): Promise<Principal> {
    if (this.isAdminToken(token)) return Principal.adminToken();
    const user = await this.users.findByToken(token);
    if (!user) throw this.unauthorized('Invalid bearer token');
    return Principal.forUser(user);
  }

  private isAdminToken(token: string): boolean {
    if (!this.adminToken) return false;
    const candidate = Buffer.from(token);
    return candidate.length === this.adminToken.length && timingSafeEqual(candidate, this.adminToken);
  }

  private unauthorized(message: string): UnauthorizedException {
    return new UnauthorizedException(message);
  }
}
