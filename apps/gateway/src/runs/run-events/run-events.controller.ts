import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { Messaging } from '@runforge/service';
import type { RunHistory } from '@runforge/contracts';
import { toAuditEvent } from '@runforge/messaging';
import { isRunId } from '../../common/validation';

/**
 * `GET /api/runs/{id}/events`: the run's whole history straight from the stream (the audit log),
 * in stream order, upcast to the current event versions. An unknown id is a fast 404: a direct get
 * of its `RunRequested` comes first.
 */
@Controller('api/runs')
export class RunEventsController {
  constructor(private readonly messaging: Messaging) {}

  @Get(':id/events')
  async events(@Param('id') id: string): Promise<RunHistory> {
    const requested = isRunId(id) ? await this.messaging.reader.lastOfType(id, 'RunRequested') : undefined;
    if (!requested)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no run with id "${id}"` });
    const history = await this.messaging.reader.history(id);
    return {
      runId: id,
      events: history.map(toAuditEvent),
    };
  }
}
