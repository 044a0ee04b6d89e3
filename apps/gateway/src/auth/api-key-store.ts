import { ApiKeyRow, poolQuery, schemaOf } from '@runforge/read-models';
import type { Principal, Role } from '@runforge/contracts';
import { IsNull, type DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { displayPrefix, hashSecret, looksLikeSecret, newSecret } from './api-key-secret';

/** A key as listed: never its secret or hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  createdBy: Principal | null;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: Principal | null;
  lastUsedAt: string | null;
}

/** A key just created: the only answer that carries its secret. */
export type CreatedApiKey = ApiKeyView & { secret: string };

export interface NewApiKey {
  name: string;
  role: Role;
  expiresAt?: Date;
  createdBy?: Principal;
}

/** An authenticated key: who it is and the role it holds. */
export interface KeyHolder {
  principal: Principal;
  role: Role;
}

/** How often `last_used_at` is written per key at most (not on every request). */
const LAST_USED_RESOLUTION_MS = 60_000;

export function viewOf(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: `${row.secretPrefix}…`,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    revokedBy: row.revokedBy,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

/**
 * The API keys in Postgres. Plain (no Nest) so that `npm run keys` and the gateway share it; the
 * clock is passed in where it decides something (expiry), so tests can name the instant.
 */
export class ApiKeyStore {
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(private readonly db: DataSource) {}

  async create(input: NewApiKey, now = new Date()): Promise<CreatedApiKey> {
    return this.insert(input, newSecret(), now);
  }

  /**
   * Stores a secret chosen elsewhere (the bootstrap admin key `npm start` and tests hand the
   * gateway), unless a key with that secret exists already. Answers whether it was added.
   */
  async ensure(input: NewApiKey, secret: string, now = new Date()): Promise<boolean> {
    if (!looksLikeSecret(secret)) throw new Error('a bootstrap key must look like rf_ + 43 base64url characters');
    const known = await this.db.getRepository(ApiKeyRow).existsBy({ secretHash: hashSecret(secret) });
    if (known) return false;
    await this.insert(input, secret, now);
    return true;
  }

  async list(): Promise<ApiKeyView[]> {
    const rows = await this.db.getRepository(ApiKeyRow).find({ order: { createdAt: 'DESC', id: 'DESC' } });
    return rows.map(viewOf);
  }

  async find(id: string): Promise<ApiKeyView | undefined> {
    const row = await this.db.getRepository(ApiKeyRow).findOneBy({ id });
    return row ? viewOf(row) : undefined;
  }

  /** Revokes a key (idempotent: a revoked key keeps its first revocation). Undefined when unknown. */
  async revoke(id: string, by: Principal | null, now = new Date()): Promise<ApiKeyView | undefined> {
    const repo = this.db.getRepository(ApiKeyRow);
    await repo.update({ id, revokedAt: IsNull() }, { revokedAt: now, revokedBy: by });
    const row = await repo.findOneBy({ id });
    return row ? viewOf(row) : undefined;
  }

  /** The holder of a secret if it is a live key (known, not revoked, not expired). */
  async authenticate(secret: string, now = new Date()): Promise<KeyHolder | undefined> {
    if (!looksLikeSecret(secret)) return undefined;
    // Every request comes through here: one statement on the pool, not a repository's query builder.
    const [row] = await poolQuery<{ id: string; name: string; role: Role; expires_at: Date | null }>(
      this.db,
      `SELECT id, name, role, expires_at FROM "${schemaOf(this.db)}".api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`,
      [hashSecret(secret)],
    );
    if (!row || (row.expires_at !== null && row.expires_at <= now)) return undefined;
    this.touch(row.id, now);
    return { principal: { kind: 'key', id: row.id, name: row.name }, role: row.role };
  }

  private async insert(input: NewApiKey, secret: string, now: Date): Promise<CreatedApiKey> {
    const row = this.db.getRepository(ApiKeyRow).create({
      id: uuidv7(),
      name: input.name,
      role: input.role,
      secretHash: hashSecret(secret),
      secretPrefix: displayPrefix(secret),
      createdAt: now,
      createdBy: input.createdBy ?? null,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      revokedBy: null,
      lastUsedAt: null,
    });
    await this.db.getRepository(ApiKeyRow).insert(row);
    return { ...viewOf(row), secret };
  }

  /** Records a use, at most once a minute per key, without holding up the request. */
  private touch(id: string, now: Date): void {
    const last = this.lastUsedWritten.get(id);
    if (last !== undefined && now.getTime() - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(id, now.getTime());
    void this.db
      .getRepository(ApiKeyRow)
      .update({ id }, { lastUsedAt: now })
      .catch(() => this.lastUsedWritten.delete(id));
  }
}
