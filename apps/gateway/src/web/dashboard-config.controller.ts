import { Controller, Get } from '@nestjs/common';
import { Public } from '@runforge/service';

const DEFAULT_TRACE_URL_TEMPLATE = 'http://localhost:16686/trace/{traceId}';

/** `GET /api/dashboard/config`: settings the dashboard reads at start (e.g. where traces are shown). */
@Public()
@Controller('api/dashboard')
export class DashboardConfigController {
  @Get('config')
  config(): { traceUrlTemplate: string } {
    return { traceUrlTemplate: process.env.RUNFORGE_TRACE_URL_TEMPLATE ?? DEFAULT_TRACE_URL_TEMPLATE };
  }
}
