import type { ServerResponse } from 'node:http';

/**
 * A Server-Sent Events response on the raw Node socket (Fastify's reply is hijacked: the framework
 * never buffers or ends it). Writes after the client left are dropped quietly.
 */
export class SseChannel {
  private closed = false;
  private readonly onCloseHandlers: (() => void)[] = [];

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) must not buffer a stream.
      'x-accel-buffering': 'no',
    });
    // Reconnect delay the browser's EventSource uses if the stream drops.
    res.write('retry: 3000\n\n');
    res.on('close', () => this.finish());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.onCloseHandlers.push(handler);
  }

  send(event: string, data: unknown, id?: number): void {
    if (this.closed) return;
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.res.write(`event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line: keeps idle connections (and proxies) from timing out. */
  comment(text: string): void {
    if (!this.closed) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (!this.closed) this.res.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.onCloseHandlers.splice(0)) h();
  }
}

export const SSE_HEARTBEAT_MS = 15_000;
