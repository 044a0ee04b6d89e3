import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * The Server-Sent Events of a streamed response body, as they arrive. Ends when the server closes
 * the stream; the caller's abort signal (on the fetch) ends it early.
 */
export async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => queue.push(event) });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      while (queue.length > 0) yield queue.shift() as EventSourceMessage;
    }
  } finally {
    // Stops the download when the consumer leaves early (a `break` out of `for await`).
    await reader.cancel().catch(() => undefined);
  }
}

export type { EventSourceMessage };
