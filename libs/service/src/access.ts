import { SetMetadata } from '@nestjs/common';
import type { Role } from '@runforge/contracts';

/** Metadata read by the gateway's access guard (the other services serve only health and metrics). */
export const ACCESS_METADATA = 'runforge:access';

/** Who may call a route: anyone (`public`) or a principal holding at least `role`. */
export type Access = { readonly public: true } | { readonly role: Role };

/** Open to anyone, unauthenticated: health checks, the API's description. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_METADATA, { public: true });

/**
 * The least role a route needs. Without it a route needs `viewer` to read (GET) and `admin` for
 * anything else: a new write route is closed until someone opens it on purpose.
 */
export const RequiresRole = (role: Role): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_METADATA, { role });
