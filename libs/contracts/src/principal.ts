import { z } from 'zod';
import { PRINCIPAL_KINDS, type Principal } from './access-vocabulary';

/** A principal as events carry it (see `Principal`). */
export const PrincipalSchema = z.object({
  kind: z.enum(PRINCIPAL_KINDS),
  id: z.string().min(1).max(200),
  name: z.string().max(200),
}) satisfies z.ZodType<Principal>;
