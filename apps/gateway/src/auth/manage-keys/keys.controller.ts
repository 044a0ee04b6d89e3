import { Body, Controller, Delete, Get, HttpCode, Logger, NotFoundException, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ROLES, type Principal } from '@runforge/contracts';
import { RequiresRole } from '@runforge/service';
import { parseOrThrow, ValidationFailed } from '../../common/validation';
import { parseLifetime } from '../api-key-secret';
import { ApiKeyStore, type ApiKeyView, type CreatedApiKey } from '../api-key-store';
import { CurrentPrincipal } from '../current-principal.decorator';

export const CreateKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES),
  /** A lifetime from now: `30d`, `12h`, `90m`. */
  expiresIn: z.string().max(10).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

/**
 * API keys (admin only): create (the only answer that shows the secret), list, revoke. Who made
 * each change is stored with the key and logged.
 */
@RequiresRole('admin')
@Controller('api/keys')
export class KeysController {
  private readonly log = new Logger('Keys');

  constructor(private readonly keys: ApiKeyStore) {}

  @Post()
  @HttpCode(201)
  async create(
    @Body() body: unknown,
    @CurrentPrincipal() by: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreatedApiKey> {
    const input = parseOrThrow(CreateKeySchema, body);
    const now = new Date();
    const expiresAt = expiryOf(input, now);
    const created = await this.keys.create({ name: input.name, role: input.role, expiresAt, createdBy: by }, now);
    this.log.log(`key ${created.id} "${created.name}" (${created.role}) created by ${by.kind} ${by.id}`);
    void reply.header('Location', `/api/keys/${created.id}`).header('Cache-Control', 'no-store');
    return created;
  }

  @Get()
  async list(): Promise<{ items: ApiKeyView[] }> {
    return { items: await this.keys.list() };
  }

  @Delete(':id')
  async revoke(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<ApiKeyView> {
    const revoked = await this.keys.revoke(id, by);
    if (!revoked)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no key with id "${id}"` });
    this.log.log(`key ${id} revoked by ${by.kind} ${by.id}`);
    return revoked;
  }
}

function expiryOf(input: z.output<typeof CreateKeySchema>, now: Date): Date | undefined {
  if (input.expiresIn !== undefined && input.expiresAt !== undefined)
    throw new ValidationFailed([{ field: 'expiresIn', reason: 'give expiresIn or expiresAt, not both' }]);
  if (input.expiresIn !== undefined) {
    const ms = parseLifetime(input.expiresIn);
    if (ms === undefined)
      throw new ValidationFailed([{ field: 'expiresIn', reason: 'expected a lifetime like 30d, 12h or 90m' }]);
    return new Date(now.getTime() + ms);
  }
  if (input.expiresAt !== undefined) {
    const at = new Date(input.expiresAt);
    if (at <= now) throw new ValidationFailed([{ field: 'expiresAt', reason: 'must be in the future' }]);
    return at;
  }
  return undefined;
}
