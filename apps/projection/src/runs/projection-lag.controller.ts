import { Controller, Get } from '@nestjs/common';
import { ProjectionConsumer, type ProjectionLag } from './projection.consumer';

/** `GET /projection/lag`: last stream sequence vs the last applied one (the checkpoint). */
@Controller('projection')
export class ProjectionLagController {
  constructor(private readonly projection: ProjectionConsumer) {}

  @Get('lag')
  lag(): Promise<ProjectionLag> {
    return this.projection.lag();
  }
}
