import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Principal, Role } from '@runforge/contracts';

/**
 * An API key of the gateway (see docs/security.md). Only the SHA-256 of the secret is kept: the
 * secret is shown once, at creation. Owned and written by the gateway (and `npm run keys`).
 */
@Entity({ name: 'api_keys' })
export class ApiKeyRow {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) role!: Role;
  /** Hex SHA-256 of the whole secret (`rf_…`). */
  @Index('api_keys_hash_key', { unique: true })
  @Column({ name: 'secret_hash', type: 'text' })
  secretHash!: string;
  /** The secret's first characters, so a user can tell keys apart (`rf_AbC1…`). */
  @Column({ name: 'secret_prefix', type: 'text' }) secretPrefix!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'created_by', type: 'jsonb', nullable: true }) createdBy!: Principal | null;
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt!: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  @Column({ name: 'revoked_by', type: 'jsonb', nullable: true }) revokedBy!: Principal | null;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt!: Date | null;
}

export const API_KEY_ENTITIES = [ApiKeyRow];
