import { Controller, Get } from '@nestjs/common';
import { KindRegistry, type KindDescription } from '@runforge/submission';

/**
 * `GET /api/kinds`: every kind a run can be of — its name, what its progress counts, the JSON Schema
 * of its request (what `POST /api/runs` takes besides `kind`) and its lifecycle defaults — so the
 * dashboard and clients build their forms from it rather than from a list of their own.
 */
@Controller('api/kinds')
export class ListKindsController {
  constructor(private readonly kinds: KindRegistry) {}

  @Get()
  list(): { items: KindDescription[] } {
    return { items: this.kinds.describe() };
  }
}
