import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { parseRunSubject } from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { SSE_HEARTBEAT_MS, SseChannel } from './sse';

/** At most one `changed` notice a second per client. */
const NOTICE_INTERVAL_MS = 1_000;

/**
 * `GET /api/runs/stream`: list-level freshness. Sends `event: changed` with the ids of the runs that
 * had events since the last notice (at most once a second), so a runs list refetches only when
 * something changed instead of polling. The list itself stays `GET /api/runs`.
 */
@Controller('api/runs')
export class RunChangesController {
  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  @Get('stream')
  changes(@Res() reply: FastifyReply): void {
    reply.hijack();
    const channel = new SseChannel(reply.raw);
    const topo = this.cfg.topology;
    const sub = this.messaging.nc.subscribe(topo.anyRunSubject('*'));
    const pending = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      if (pending.size === 0) return;
      channel.send('changed', { ids: [...pending] });
      pending.clear();
    };
    const heartbeat = setInterval(() => channel.comment('heartbeat'), SSE_HEARTBEAT_MS);
    channel.onClose(() => {
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      sub.unsubscribe();
    });
    channel.send('ready', {});
    void (async () => {
      for await (const msg of sub) {
        const parsed = parseRunSubject(topo, msg.subject);
        if (!parsed) continue;
        pending.add(parsed.runId);
        timer ??= setTimeout(flush, NOTICE_INTERVAL_MS);
      }
    })();
  }
}
