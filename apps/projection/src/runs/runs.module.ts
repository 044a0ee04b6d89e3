import { Global, Module } from '@nestjs/common';
import { READINESS_DETAILS, type ReadinessDetails } from '@runforge/service';
import { ProjectionLagController } from './projection-lag.controller';
import { ProjectionConsumer } from './projection.consumer';

/** Global so that the platform's health controller sees `READINESS_DETAILS` (the `lag` field). */
@Global()
@Module({
  controllers: [ProjectionLagController],
  providers: [
    ProjectionConsumer,
    {
      provide: READINESS_DETAILS,
      useFactory: (p: ProjectionConsumer): ReadinessDetails => ({
        readinessDetails: async () => ({ lag: await p.lag() }),
      }),
      inject: [ProjectionConsumer],
    },
  ],
  exports: [ProjectionConsumer, READINESS_DETAILS],
})
export class RunsProjectionModule {}
