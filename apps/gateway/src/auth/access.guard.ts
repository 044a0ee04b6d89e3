import {
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleAllows, type Role } from '@runforge/contracts';
import { ACCESS_METADATA, type Access } from '@runforge/service';
import { Authenticator, type Holder } from './authenticator.service';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, once the access guard has authenticated it. */
    holder?: Holder;
  }
}

/** The one 401 body: it never says whether the credential was missing, unknown, revoked or expired. */
export const UNAUTHENTICATED = { statusCode: 401, message: 'authentication required' } as const;

/** The role a route needs: its `@RequiresRole`, else viewer to read and admin for anything else. */
export function requiredRole(access: Access | undefined, method: string): Role | 'public' {
  if (access && 'public' in access) return 'public';
  if (access) return access.role;
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'admin';
}

/**
 * Every route of the gateway goes through here (a global guard): `401` without a live credential,
 * `403` naming the role a route needs when the holder's is lower.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    const needed = requiredRole(access, req.method);
    if (needed === 'public') return true;
    const holder = await this.authenticator.authenticate(req.headers.authorization);
    if (!holder) {
      void http.getResponse<FastifyReply>().header('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedException(UNAUTHENTICATED);
    }
    req.holder = holder;
    if (!roleAllows(holder.role, needed)) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        message: `this needs the ${needed} role; ${holder.principal.name} has ${holder.role}`,
        requiredRole: needed,
      });
    }
    return true;
  }
}
