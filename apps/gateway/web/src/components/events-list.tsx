import { useState } from 'preact/hooks';
import { ApiError, get, type HistoryEvent, type RunHistory } from '../api';
import { Empty, ErrorBox, Loading } from './ui';

/** The run's audit history from the stream, loaded when opened (it can be long). */
export function EventsList({ runId }: { runId: string }) {
  const [events, setEvents] = useState<HistoryEvent[] | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(false);

  const load = (): void => {
    setLoading(true);
    get<RunHistory>(`/api/runs/${runId}/events`)
      .then((r) => {
        setEvents(r.events);
        setError(undefined);
      })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, String(err))))
      .finally(() => setLoading(false));
  };

  return (
    <details
      class="events"
      onToggle={(e) => {
        if (e.currentTarget.open) load();
      }}
    >
      <summary>Event history (audit log)</summary>
      {loading && !events && <Loading what="events" />}
      {error && <ErrorBox error={error} retry={load} />}
      {events && events.length === 0 && <Empty>No events.</Empty>}
      {events && events.length > 0 && (
        <div class="table-wrap">
          <table data-testid="events-table">
            <thead>
              <tr>
                <th>Seq</th>
                <th>Event</th>
                <th>Attempt</th>
                <th>At</th>
                <th>Data</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e, i) => (
                <tr key={e.seq ?? i}>
                  <td>{e.seq ?? i + 1}</td>
                  <td>{e.type}</td>
                  <td>{e.attempt ?? '–'}</td>
                  <td>{e.occurredAt ? new Date(e.occurredAt).toLocaleTimeString() : '–'}</td>
                  <td>
                    <code class="data">{JSON.stringify(e.data)?.slice(0, 200)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <button type="button" class="link" onClick={load}>
        Reload
      </button>
    </details>
  );
}
