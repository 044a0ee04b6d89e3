import { Global, Module, type DynamicModule } from '@nestjs/common';
import { JetStreamServer } from '@runforge/messaging';
import { READINESS_DETAILS, type ReadinessDetails } from '@runforge/service';
import { ProjectionLagController } from './projection-lag.controller';
import { ProjectionConsumer } from './projection.consumer';
import { RunsProjectionController } from './runs-projection.controller';

/** Global so that the platform's health controller sees `READINESS_DETAILS` (the `lag` field). */
@Global()
@Module({})
export class RunsProjectionModule {
  /** `transport`: the service's JetStream transport, whose batches the projection applies. */
  static forRoot(transport: JetStreamServer): DynamicModule {
    return {
      module: RunsProjectionModule,
      controllers: [ProjectionLagController, RunsProjectionController],
      providers: [
        { provide: JetStreamServer, useValue: transport },
        ProjectionConsumer,
        {
          provide: READINESS_DETAILS,
          useFactory: (p: ProjectionConsumer): ReadinessDetails => ({
            readinessDetails: async () => ({ lag: await p.lag(), progress: p.progress }),
            // Not ready while events wait and the checkpoint stands still (PROJECTION_STALL_SECONDS).
            readinessChecks: () => ({ progressing: !p.progress.stalled }),
          }),
          inject: [ProjectionConsumer],
        },
      ],
      exports: [ProjectionConsumer, READINESS_DETAILS],
    };
  }
}
