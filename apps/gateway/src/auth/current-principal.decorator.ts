import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '@runforge/contracts';

/** The authenticated principal of the request (set by the access guard; routes behind it have one). */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const holder = ctx.switchToHttp().getRequest<FastifyRequest>().holder;
  if (!holder) throw new Error('no principal: the route is not behind the access guard');
  return holder.principal;
});
