import { fetchEventSource } from '@microsoft/fetch-event-source';
import { authHeaders, SESSION_ENDED, signOut } from './session';

/** How long to wait before reconnecting a dropped stream (as EventSource's default retry). */
const RETRY_MS = 3_000;

/**
 * A Server-Sent Events stream that carries the API key: `EventSource` cannot send headers, and the
 * long-lived key must not travel in a URL (URLs end up in logs). The part of EventSource's interface
 * the dashboard uses — named events, `onerror` (then a retry, as EventSource does), `close()` — over
 * a fetch-based reader.
 */
export class EventStream {
  onerror: (() => void) | null = null;
  private readonly controller = new AbortController();
  private readonly handlers = new Map<string, ((e: MessageEvent<string>) => void)[]>();

  constructor(url: string) {
    void fetchEventSource(url, {
      headers: authHeaders(),
      signal: this.controller.signal,
      // Keep streaming while the tab is hidden, as EventSource does.
      openWhenHidden: true,
      onopen: (res) => {
        if (res.status === 401) {
          this.close();
          signOut(SESSION_ENDED);
        }
        return res.ok ? Promise.resolve() : Promise.reject(new Error(`stream answered ${res.status}`));
      },
      onmessage: (msg) => {
        for (const h of this.handlers.get(msg.event || 'message') ?? [])
          h(new MessageEvent(msg.event || 'message', { data: msg.data }));
      },
      // The server ended the stream: like EventSource, report it and reconnect (unless closed).
      onclose: () => {
        throw new Error('stream closed');
      },
      onerror: () => {
        if (this.controller.signal.aborted) throw new Error('closed');
        this.onerror?.();
        if (this.controller.signal.aborted) throw new Error('closed');
        return RETRY_MS;
      },
    }).catch(() => undefined);
  }

  addEventListener(type: string, handler: (e: MessageEvent<string>) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }

  close(): void {
    this.controller.abort();
  }
}
