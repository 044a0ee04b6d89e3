import { Controller, Get, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal, Role } from '@runforge/contracts';

/** `GET /api/me`: who the credential names and its role (the dashboard shows it). */
@Controller('api/me')
export class WhoAmIController {
  @Get()
  me(@Req() req: FastifyRequest): { principal: Principal; role: Role } {
    const holder = req.holder;
    if (!holder) throw new Error('no principal: the route is not behind the access guard');
    return { principal: holder.principal, role: holder.role };
  }
}
