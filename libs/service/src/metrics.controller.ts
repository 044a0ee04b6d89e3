import { Controller, Get, Header } from '@nestjs/common';
import { metricsRegistry } from '@runforge/telemetry';

/** Prometheus exposition of the process's registry. */
@Controller('metrics')
export class MetricsController {
  @Get()
  @Header('Content-Type', metricsRegistry.contentType)
  @Header('Cache-Control', 'no-store')
  async metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
