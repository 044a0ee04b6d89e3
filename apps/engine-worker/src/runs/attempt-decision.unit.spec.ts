import {
  BacktestRequestSchema,
  CONSUMER_SETTINGS,
  createEvent,
  EVENTS,
  LOG_MESSAGE_MAX,
  OptimizationRequestSchema,
  type EventDataInput,
  type RunEventType,
  type AbandonReason,
} from '@runforge/contracts';
import {
  ATTEMPT_EVENT_TYPES,
  decide,
  evolveAttempts,
  foldAttempts,
  handBack,
  INITIAL_ATTEMPT_STATE,
  settle,
  supersededBy,
  type Acknowledgement,
  type AttemptDecision,
  type AttemptState,
  type AttemptStop,
  type Delivery,
  type EventToRecord,
  type HistoryEntry,
  type SettleDecision,
  type StoppedAttempt,
} from './attempt-decision';
import type { StopReason } from './run-signals.service';

// Histories are built from real envelopes (createEvent validates each payload), as the worker
// reads them back from the run's stream.

const RUN = 'run-attempts-1';
const LIMIT = CONSUMER_SETTINGS.engine.maxDeliver;

function entry<T extends RunEventType>(type: T, attempt: number, data: EventDataInput<T>, traceparent?: string) {
  const event = createEvent(type, { runId: RUN, attempt, occurredAt: new Date(attempt * 1000).toISOString() }, data);
  return traceparent === undefined ? { event } : { event, traceparent };
}

const backtest = (maxRetries: number) =>
  BacktestRequestSchema.parse({
    strategy: 'sma-crossover',
    params: { fast: 5, slow: 20 },
    dataset: { synthetic: { bars: 2_000, seed: 1, timeframe: '1h' } },
    maxRetries,
  });

/** The run's history, one fact at a time. */
const given = {
  requested: (maxRetries = 3, traceparent?: string) =>
    entry(
      'RunRequested',
      0,
      { kind: 'backtest', request: backtest(maxRetries), totalBars: 2_000, triggeredBy: 'api' },
      traceparent,
    ),
  started: (attempt: number) => entry('RunStarted', attempt, { workerId: `worker-${attempt}`, totalBars: 2_000 }),
  progressed: (attempt: number, processedBars: number) =>
    entry('BarProgressed', attempt, { processedBars, totalBars: 2_000 }),
  logged: (attempt: number) => entry('RunLogged', attempt, { level: 'INFO', message: 'backtest started' }),
  completed: (attempt: number) =>
    entry('RunCompleted', attempt, {
      durationMs: 12,
      processedBars: 2_000,
      result: { metrics: { sharpe: 1 }, equityCurve: [], bars: 2_000 },
    }),
  failed: (attempt: number) => entry('RunFailed', attempt, { errorMessage: 'boom', reason: 'error' }),
  cancelled: (attempt: number) => entry('RunCancelled', attempt, { reason: 'cancelled by request' }),
  cancellationRequested: () => entry('RunCancellationRequested', 0, { requestedBy: 'api' }),
  /** `attempt` ended as `reason`, recorded by `by` (itself, or the next attempt when its worker went silent). */
  abandoned: (attempt: number, reason: AbandonReason, by = attempt) =>
    entry('RunAttemptAbandoned', by, { abandonedAttempt: attempt, reason }),
  /** Deliveries 1..n handed back by workers shutting down. */
  handedBack: (n: number) => Array.from({ length: n }, (_, i) => given.abandoned(i + 1, 'shutdown')),
  /** Attempts 1..n that lost their worker, each recorded by the next one. */
  lost: (n: number) => Array.from({ length: n }, (_, i) => given.abandoned(i + 1, 'heartbeat_lost', i + 2)),
};

const state = (...history: (HistoryEntry | HistoryEntry[])[]): AttemptState => foldAttempts(history.flat());
const delivery = (attempt: number, more: Partial<Delivery> = {}): Delivery => ({
  attempt,
  maxDeliver: LIMIT,
  shuttingDown: false,
  ...more,
});

/** The events a decision records, as the tables spell them. */
const log = (
  level: 'INFO' | 'WARNING' | 'ERROR',
  message: string,
  context?: Record<string, unknown>,
): EventToRecord => ({
  type: 'RunLogged',
  data: context === undefined ? { level, message } : { level, message, context },
});
const lostWorker = (attempt: number, next: string): EventToRecord[] => [
  { type: 'RunAttemptAbandoned', data: { abandonedAttempt: attempt, reason: 'heartbeat_lost' } },
  log('WARNING', `attempt ${attempt} lost its worker; ${next}`),
];
const runFailed = (errorMessage: string, reason: 'attempts_exhausted' | 'timeout' | 'error', more = {}) =>
  ({ type: 'RunFailed', data: { errorMessage, reason, ...more } }) as const satisfies EventToRecord;
const exhausted = (
  attempt: number,
  message: string,
  termReason: string,
  before: EventToRecord[] = [],
): AttemptDecision => ({
  kind: 'fail',
  reason: 'attempts_exhausted',
  message,
  events: [...before, log('ERROR', message), runFailed(message, 'attempts_exhausted')],
  stopAttemptsUpTo: attempt,
  acknowledge: { kind: 'term', reason: termReason },
});
const start = (failedAttempts: number, backoffMs: number, events: EventToRecord[] = []): AttemptDecision => ({
  kind: 'start',
  events,
  failedAttempts,
  supersedeOlder: true,
  backoffMs,
});
const ACK: Acknowledgement = { kind: 'ack' };
const NAK: Acknowledgement = { kind: 'nak' };
const NONE: Acknowledgement = { kind: 'none' };

interface DecideRow {
  given: string;
  history: AttemptState;
  when: Delivery;
  then: AttemptDecision;
}

const decideTable: DecideRow[] = [
  // orphan
  {
    given: 'no RunRequested: the dispatch is an orphan',
    history: state(),
    when: delivery(1),
    then: { kind: 'orphan', events: [], acknowledge: { kind: 'term', reason: 'orphan' } },
  },
  {
    given: 'a history without its RunRequested (trimmed): an orphan',
    history: state(given.started(1)),
    when: delivery(2),
    then: { kind: 'orphan', events: [], acknowledge: { kind: 'term', reason: 'orphan' } },
  },
  // skip
  {
    given: 'a run an earlier attempt completed (its ack was lost)',
    history: state(given.requested(), given.started(1), given.completed(1)),
    when: delivery(2),
    then: {
      kind: 'skip',
      why: 'already ended',
      ended: { type: 'RunCompleted', attempt: 1 },
      events: [],
      acknowledge: ACK,
    },
  },
  {
    given: 'a run that failed',
    history: state(given.requested(), given.started(1), given.failed(1)),
    when: delivery(2),
    then: {
      kind: 'skip',
      why: 'already ended',
      ended: { type: 'RunFailed', attempt: 1 },
      events: [],
      acknowledge: ACK,
    },
  },
  {
    given: 'a run that was cancelled, while this worker shuts down at the delivery limit',
    history: state(given.requested(), given.cancellationRequested(), given.started(1), given.cancelled(1)),
    when: delivery(LIMIT, { shuttingDown: true }),
    then: {
      kind: 'skip',
      why: 'already ended',
      ended: { type: 'RunCancelled', attempt: 1 },
      events: [],
      acknowledge: ACK,
    },
  },
  // superseded
  {
    given: 'a newer attempt has already started the run',
    history: state(given.requested(), given.started(3)),
    when: delivery(2),
    then: { kind: 'superseded', byAttempt: 3, events: [], acknowledge: NONE },
  },
  // cancel before start
  {
    given: 'a cancellation requested before any worker took the run',
    history: state(given.requested(), given.cancellationRequested()),
    when: delivery(1),
    then: {
      kind: 'cancel-before-start',
      events: [
        log('INFO', 'run cancelled before it started'),
        { type: 'RunCancelled', data: { processedBars: 0, reason: 'cancelled before it started' } },
      ],
      acknowledge: ACK,
    },
  },
  {
    given: 'a cancellation requested, on the last delivery of a stopping worker',
    history: state(given.requested(), given.handedBack(LIMIT - 1), given.cancellationRequested()),
    when: delivery(LIMIT, { shuttingDown: true }),
    then: {
      kind: 'cancel-before-start',
      events: [
        log('INFO', 'run cancelled before it started'),
        { type: 'RunCancelled', data: { processedBars: 0, reason: 'cancelled before it started' } },
      ],
      acknowledge: ACK,
    },
  },
  {
    given: "a cancellation requested after attempt 1 went silent: its loss is not recorded (today's behaviour)",
    history: state(given.requested(), given.started(1), given.progressed(1, 500), given.cancellationRequested()),
    when: delivery(2),
    then: {
      kind: 'cancel-before-start',
      events: [
        log('INFO', 'run cancelled before it started'),
        { type: 'RunCancelled', data: { processedBars: 0, reason: 'cancelled before it started' } },
      ],
      acknowledge: ACK,
    },
  },
  // the delivery limit
  {
    given: "the dispatch's last possible delivery, every earlier one a shutdown hand-back",
    history: state(given.requested(3), given.handedBack(LIMIT - 1)),
    when: delivery(LIMIT),
    then: exhausted(
      LIMIT,
      `run failed: its dispatch reached the delivery limit (${LIMIT} deliveries, most of them handed back by workers shutting down)`,
      'delivery limit',
    ),
  },
  {
    given: 'the delivery limit, on a worker shutting down: the run still ends',
    history: state(given.requested(3), given.handedBack(LIMIT - 1)),
    when: delivery(LIMIT, { shuttingDown: true }),
    then: exhausted(
      LIMIT,
      `run failed: its dispatch reached the delivery limit (${LIMIT} deliveries, most of them handed back by workers shutting down)`,
      'delivery limit',
    ),
  },
  {
    given: 'a delivery past a lowered limit',
    history: state(given.requested(3), given.handedBack(5)),
    when: delivery(6, { maxDeliver: 4 }),
    then: exhausted(
      6,
      'run failed: its dispatch reached the delivery limit (6 deliveries, most of them handed back by workers shutting down)',
      'delivery limit',
    ),
  },
  {
    given: 'no delivery limit (maxDeliver -1) and 60 hand-backs: it starts',
    history: state(given.requested(3), given.handedBack(60)),
    when: delivery(61, { maxDeliver: -1 }),
    then: start(0, 0),
  },
  {
    given: 'the delivery before the limit, its predecessors hand-backs: it starts',
    history: state(given.requested(3), given.handedBack(LIMIT - 2)),
    when: delivery(LIMIT - 1),
    then: start(0, 0),
  },
  // hand back
  {
    given: 'a worker shutting down takes a fresh run',
    history: state(given.requested()),
    when: delivery(1, { shuttingDown: true }),
    then: {
      kind: 'hand-back',
      events: [
        {
          type: 'RunAttemptAbandoned',
          data: {
            abandonedAttempt: 1,
            reason: 'shutdown',
            detail: 'worker shutting down; handed back before starting',
          },
        },
        log('WARNING', 'attempt 1 abandoned: worker shutting down; handed back before starting'),
      ],
      acknowledge: NAK,
    },
  },
  {
    given: 'a worker shutting down takes a run whose retries ran out: it hands back, recording nothing else',
    history: state(given.requested(0), given.started(1)),
    when: delivery(2, { shuttingDown: true }),
    then: handBack(2),
  },
  // start
  {
    given: 'a first delivery',
    history: state(given.requested()),
    when: delivery(1),
    then: { kind: 'start', events: [], failedAttempts: 0, supersedeOlder: false, backoffMs: 0 },
  },
  {
    given: 'attempt 1 went silent, maxRetries 3: the loss is recorded, then it retries',
    history: state(given.requested(3), given.started(1), given.progressed(1, 700)),
    when: delivery(2),
    then: start(1, 0, lostWorker(1, 'retrying as attempt 2')),
  },
  {
    given: 'attempt 1 recorded its own stall: nothing to record',
    history: state(given.requested(3), given.started(1), given.abandoned(1, 'stalled')),
    when: delivery(2),
    then: start(1, 0),
  },
  {
    given: 'attempt 1 was a shutdown hand-back: not a failed attempt',
    history: state(given.requested(0), given.handedBack(1)),
    when: delivery(2),
    then: start(0, 0),
  },
  {
    given: 'three hand-backs with maxRetries 0: none counts',
    history: state(given.requested(0), given.handedBack(3)),
    when: delivery(4),
    then: start(0, 0),
  },
  {
    given: 'two attempts lost their worker, maxRetries 3: the second failed attempt backs off 1 s',
    history: state(given.requested(3), given.lost(1), given.started(2)),
    when: delivery(3),
    then: start(2, 1000, lostWorker(2, 'retrying as attempt 3')),
  },
  {
    given: 'hand-backs between lost attempts: only the lost ones count',
    history: state(given.requested(3), given.abandoned(1, 'shutdown'), given.abandoned(2, 'stalled')),
    when: delivery(3),
    then: start(1, 0),
  },
  // retries exhausted
  {
    given: 'attempt 1 went silent, maxRetries 0',
    history: state(given.requested(0), given.started(1)),
    when: delivery(2),
    then: exhausted(
      2,
      'run failed after 1 failed attempt (maxRetries 0): its attempt lost its worker before finishing',
      'attempts exhausted',
      lostWorker(1, 'no retries left'),
    ),
  },
  {
    given: 'two attempts went silent, maxRetries 1',
    history: state(given.requested(1), given.started(1), given.lost(1), given.started(2)),
    when: delivery(3),
    then: exhausted(
      3,
      'run failed after 2 failed attempts (maxRetries 1): each attempt lost its worker before finishing',
      'attempts exhausted',
      lostWorker(2, 'no retries left'),
    ),
  },
  {
    given: 'the last attempt stalled, maxRetries 0',
    history: state(given.requested(0), given.started(1), given.abandoned(1, 'stalled')),
    when: delivery(2),
    then: exhausted(
      2,
      'run failed after 1 failed attempt (maxRetries 0): the last attempt stopped making progress',
      'attempts exhausted',
    ),
  },
  {
    given: 'the last attempt ran out of time (a retryable timeout), maxRetries 0',
    history: state(given.requested(0), given.started(1), given.abandoned(1, 'timeout')),
    when: delivery(2),
    then: exhausted(
      2,
      'run failed after 1 failed attempt (maxRetries 0): its attempt ran out of time',
      'attempts exhausted',
    ),
  },
  {
    given: "the last attempt's coordinator lost the history, maxRetries 1",
    history: state(given.requested(1), given.lost(1), given.abandoned(2, 'coordinator_lost')),
    when: delivery(3),
    then: exhausted(
      3,
      "run failed after 2 failed attempts (maxRetries 1): the last attempt's coordinator lost the run's history",
      'attempts exhausted',
    ),
  },
  {
    given: 'a lost attempt then a shutdown hand-back, maxRetries 0: one failed attempt',
    history: state(given.requested(0), given.lost(1), given.abandoned(2, 'shutdown')),
    when: delivery(3),
    then: exhausted(
      3,
      'run failed after 1 failed attempt (maxRetries 0): its attempt lost its worker before finishing',
      'attempts exhausted',
    ),
  },
];

describe('decide: what a delivery of a run does', () => {
  it.each(decideTable)('given $given', ({ history, when, then }) => {
    expect(decide(history, when)).toEqual(then);
  });

  it.each([
    [2, 1000],
    [3, 2000],
    [4, 4000],
    [5, 8000],
    [6, 16_000],
    [7, 30_000],
    [12, 30_000],
  ])('given %i failed attempts and retries left, then it backs off %i ms before starting', (failed, backoffMs) => {
    const history = state(given.requested(20), given.lost(failed));

    const decision = decide(history, delivery(failed + 1));

    expect(decision).toEqual(start(failed, backoffMs));
  });

  it('given a worker that began shutting down during the backoff, then handBack is the same hand-back decide gives', () => {
    const history = state(given.requested(3), given.lost(2));

    expect(handBack(3)).toEqual(decide(history, delivery(3, { shuttingDown: true })));
  });
});

interface SettleRow {
  given: string;
  history: AttemptState;
  when: StoppedAttempt;
  then: SettleDecision;
}

const boom = { errorMessage: 'boom', errorStackTrace: 'Error: boom\n    at strategy', errorCode: 'E_STRATEGY' };
const natsDown = { kind: 'nats-unavailable', fields: { errorMessage: 'CONNECTION_CLOSED' } } as const;
const running = (attempt = 1) => state(given.requested(), given.started(attempt));
const cancel = (message: string, processedBars?: number): SettleDecision => ({
  kind: 'cancel',
  events: [
    log('INFO', message),
    {
      type: 'RunCancelled',
      data:
        processedBars === undefined
          ? { reason: 'cancelled by request' }
          : { processedBars, reason: 'cancelled by request' },
    },
  ],
  acknowledge: ACK,
});
const timedOut = (seconds: number, more = {}): SettleDecision => {
  const message = `run exceeded its time budget of ${seconds} s (timeoutSeconds) and was stopped`;
  return {
    kind: 'fail',
    reason: 'timeout',
    message,
    events: [log('ERROR', message), runFailed(message, 'timeout', more)],
    acknowledge: ACK,
  };
};
const abandon = (
  attempt: number,
  reason: Exclude<AbandonReason, 'heartbeat_lost'>,
  detail: string,
): SettleDecision => ({
  kind: 'abandon',
  reason,
  events: [
    { type: 'RunAttemptAbandoned', data: { abandonedAttempt: attempt, reason, detail } },
    log('WARNING', `attempt ${attempt} abandoned: ${detail}`),
  ],
  acknowledge: NAK,
});

const settleTable: SettleRow[] = [
  // superseded
  {
    given: 'a stop saying a newer attempt took over',
    history: running(1),
    when: { attempt: 1, stop: { kind: 'superseded', byAttempt: 2 }, error: { kind: 'aborted', processedBars: 10 } },
    then: { kind: 'superseded', byAttempt: 2, events: [], acknowledge: NONE },
  },
  {
    given: 'a newer attempt started while this one, cut off, failed',
    history: state(given.requested(), given.started(1), given.started(2)),
    when: { attempt: 1, error: { kind: 'error', fields: boom } },
    then: { kind: 'superseded', byAttempt: 2, events: [], acknowledge: NONE },
  },
  {
    given: 'a newer attempt ended the run (retries used up) and its stop reached this one',
    history: state(
      given.requested(0),
      given.started(1),
      entry('RunFailed', 2, { errorMessage: 'x', reason: 'attempts_exhausted' }),
    ),
    when: { attempt: 1, stop: { kind: 'stopped', message: 'x' }, error: { kind: 'aborted' } },
    then: { kind: 'superseded', byAttempt: 2, events: [], acknowledge: NONE },
  },
  // already ended
  {
    given: 'the run already ended by this attempt (only its ack failed)',
    history: state(given.requested(), given.started(1), given.completed(1)),
    when: { attempt: 1, error: natsDown },
    then: { kind: 'already-ended', ended: { type: 'RunCompleted', attempt: 1 }, events: [], acknowledge: ACK },
  },
  // NATS unavailable
  {
    given: 'NATS unavailable mid-run, nothing asked it to stop',
    history: running(),
    when: { attempt: 1, error: natsDown },
    then: { kind: 'retry-later', events: [], acknowledge: { kind: 'nak', delayMs: 1000 } },
  },
  {
    given: 'NATS unavailable after a cancellation: cancelled',
    history: running(),
    when: { attempt: 1, stop: { kind: 'cancelled' }, error: natsDown },
    then: cancel('run cancelled'),
  },
  {
    given: 'NATS unavailable after the time budget ran out: timed out',
    history: running(),
    when: { attempt: 1, stop: { kind: 'timeout', seconds: 60 }, error: natsDown },
    then: timedOut(60),
  },
  {
    given: "NATS unavailable after a coordinator's stop: failed with NATS' error",
    history: running(),
    when: { attempt: 1, stop: { kind: 'stopped', message: 'run stopped' }, error: natsDown },
    then: {
      kind: 'fail',
      reason: 'error',
      message: 'run failed: CONNECTION_CLOSED',
      events: [log('ERROR', 'run failed: CONNECTION_CLOSED'), runFailed('CONNECTION_CLOSED', 'error')],
      acknowledge: ACK,
    },
  },
  // abandon
  {
    given: 'a stall',
    history: running(2),
    when: { attempt: 2, stop: { kind: 'stalled', seconds: 30 }, error: { kind: 'aborted', processedBars: 900 } },
    then: abandon(2, 'stalled', 'no progress for 30 s (stallSeconds)'),
  },
  {
    given: 'a timeout of a kind whose timeouts are retryable (a program kind declaring retryOnTimeout)',
    history: running(),
    when: { attempt: 1, stop: { kind: 'timeout', seconds: 60, retryable: true }, error: { kind: 'aborted' } },
    then: abandon(1, 'timeout', 'attempt exceeded its time budget of 60 s (timeoutSeconds)'),
  },
  {
    given: 'a shutdown mid-run',
    history: running(),
    when: { attempt: 1, stop: { kind: 'shutdown' }, error: { kind: 'aborted', processedBars: 100 } },
    then: abandon(1, 'shutdown', 'worker shutting down'),
  },
  {
    given: 'a coordinator that lost the run history',
    history: running(),
    when: {
      attempt: 1,
      error: { kind: 'coordinator-lost', message: 'the run history ended before the grid finished' },
    },
    then: abandon(1, 'coordinator_lost', 'the run history ended before the grid finished'),
  },
  {
    given: 'a stall and a lost coordinator: the stall',
    history: running(),
    when: { attempt: 1, stop: { kind: 'stalled', seconds: 5 }, error: { kind: 'coordinator-lost', message: 'lost' } },
    then: abandon(1, 'stalled', 'no progress for 5 s (stallSeconds)'),
  },
  {
    given: 'a lost coordinator after a timeout: the loss (a takeover resumes it)',
    history: running(),
    when: { attempt: 1, stop: { kind: 'timeout', seconds: 60 }, error: { kind: 'coordinator-lost', message: 'lost' } },
    then: abandon(1, 'coordinator_lost', 'lost'),
  },
  // timeout
  {
    given: 'a backtest past its time budget',
    history: running(),
    when: { attempt: 1, stop: { kind: 'timeout', seconds: 600 }, error: { kind: 'aborted', processedBars: 1_500 } },
    then: timedOut(600, { processedBars: 1_500 }),
  },
  {
    given: 'an optimization past its time budget (no bar count)',
    history: running(),
    when: { attempt: 1, stop: { kind: 'timeout', seconds: 60 }, error: { kind: 'aborted' } },
    then: timedOut(60),
  },
  // cancel
  {
    given: 'a backtest cancelled mid-run',
    history: running(),
    when: { attempt: 1, stop: { kind: 'cancelled' }, error: { kind: 'aborted', processedBars: 1_234 } },
    then: cancel('run cancelled after 1234 bars', 1_234),
  },
  {
    given: 'an optimization cancelled mid-run',
    history: running(),
    when: { attempt: 1, stop: { kind: 'cancelled' }, error: { kind: 'aborted' } },
    then: cancel('run cancelled'),
  },
  {
    given: 'an abort without a stop reason',
    history: running(),
    when: { attempt: 1, error: { kind: 'aborted', processedBars: 0 } },
    then: cancel('run cancelled after 0 bars', 0),
  },
  {
    given: "an abort on a coordinator's stop (today: a cancel)",
    history: running(),
    when: { attempt: 1, stop: { kind: 'stopped', message: 'run stopped' }, error: { kind: 'aborted' } },
    then: cancel('run cancelled'),
  },
  {
    given: 'a strategy error after a cancellation: cancelled',
    history: running(),
    when: { attempt: 1, stop: { kind: 'cancelled' }, error: { kind: 'error', fields: boom } },
    then: cancel('run cancelled'),
  },
  // error
  {
    given: 'a strategy that throws',
    history: running(),
    when: { attempt: 1, error: { kind: 'error', fields: boom } },
    then: {
      kind: 'fail',
      reason: 'error',
      message: 'run failed: boom',
      events: [log('ERROR', 'run failed: boom', { errorCode: 'E_STRATEGY' }), runFailed('boom', 'error', boom)],
      acknowledge: ACK,
    },
  },
  {
    given: 'an error without code or stack',
    history: running(),
    when: { attempt: 1, error: { kind: 'error', fields: { errorMessage: 'no bars' } } },
    then: {
      kind: 'fail',
      reason: 'error',
      message: 'run failed: no bars',
      events: [log('ERROR', 'run failed: no bars'), runFailed('no bars', 'error')],
      acknowledge: ACK,
    },
  },
];

describe('settle: how an attempt that threw is settled', () => {
  it.each(settleTable)('given $given', ({ history, when, then }) => {
    expect(settle(history, when)).toEqual(then);
  });

  it('given an error message as long as an event allows, then its log line is clipped and RunFailed keeps it whole', () => {
    const errorMessage = 'x'.repeat(10_000);

    const decision = settle(running(), { attempt: 1, error: { kind: 'error', fields: { errorMessage } } });

    const [logged, failed] = decision.events;
    expect(logged?.type === 'RunLogged' && logged.data.message.length).toBeLessThanOrEqual(LOG_MESSAGE_MAX);
    expect(logged?.type === 'RunLogged' && logged.data.message).toMatch(
      /^run failed: x+ … \[\d+ of 10012 characters cut]$/,
    );
    expect(failed).toEqual(runFailed(errorMessage, 'error'));
  });

  it("given the worker's own stop reasons, then settle takes them as they are", () => {
    // Compile-time: every StopReason is an AttemptStop, so the worker passes stopReasonOf(signal).
    const reasons: StopReason[] = [
      { kind: 'cancelled' },
      { kind: 'timeout', seconds: 1 },
      { kind: 'stopped', message: 'm' },
      { kind: 'stalled', seconds: 1 },
      { kind: 'shutdown' },
      { kind: 'superseded', byAttempt: 2 },
    ];
    const stops: AttemptStop[] = reasons;

    const kinds = stops.map((stop) => settle(running(), { attempt: 1, stop, error: { kind: 'aborted' } }).kind);

    expect(kinds).toEqual(['cancel', 'fail', 'cancel', 'abandon', 'abandon', 'superseded']);
  });
});

describe('every decision in the tables', () => {
  const decisions = [
    ...decideTable.map((r) => ({ given: r.given, attempt: r.when.attempt, events: decide(r.history, r.when).events })),
    ...settleTable.map((r) => ({ given: r.given, attempt: r.when.attempt, events: settle(r.history, r.when).events })),
  ];

  it('records only valid events of the run', () => {
    const invalid = decisions.filter(({ attempt, events }) =>
      events.some((e) => {
        try {
          createEvent(e.type, { runId: RUN, attempt, occurredAt: new Date(0).toISOString() }, e.data);
          return false;
        } catch {
          return true;
        }
      }),
    );

    expect(invalid.map((d) => d.given)).toEqual([]);
  });

  it("records the run's terminal event last (a log line about the end goes before it)", () => {
    const terminalIndex = (events: readonly EventToRecord[]) =>
      events.findIndex((e) => e.type === 'RunFailed' || e.type === 'RunCancelled');
    const misplaced = decisions.filter(({ events }) => ![-1, events.length - 1].includes(terminalIndex(events)));

    expect(misplaced.map((d) => d.given)).toEqual([]);
    expect(decisions.filter(({ events }) => terminalIndex(events) > 0).length).toBeGreaterThan(10);
  });
});

describe('evolveAttempts: a run folded from its history', () => {
  it('given a backtest that completed on its first attempt, then the fold holds its request, start and end', () => {
    const request = given.requested(2, '00-trace-01');

    const folded = state(request, given.started(1), given.logged(1), given.progressed(1, 1_000), given.completed(1));

    expect(folded).toEqual({
      requested: { event: request.event, traceparent: '00-trace-01' },
      ended: { type: 'RunCompleted', attempt: 1 },
      cancellationRequested: false,
      newestStartedAttempt: 1,
      abandoned: new Map(),
    });
  });

  it('given an optimization taken over after its first worker went silent, then the fold holds both attempts', () => {
    const request = entry('RunRequested', 0, {
      kind: 'optimization',
      request: OptimizationRequestSchema.parse({
        strategy: 'sma-crossover',
        axes: { fast: [5, 10], slow: [50] },
        dataset: { synthetic: { bars: 1_000, seed: 7, timeframe: '1m' } },
      }),
      totalBars: 1_000,
      totalCombinations: 2,
      triggeredBy: 'schedule',
    });
    const trial = { index: 0, params: { fast: 5, slow: 50 }, metrics: { sharpe: 1 }, score: 1, durationMs: 3 };

    const folded = state(
      request,
      given.started(1),
      entry('TrialsRecorded', 1, { outcomes: [{ ...trial, trialId: 't0', workerId: 'w1', status: 'Completed' }] }),
      given.abandoned(1, 'heartbeat_lost', 2),
      given.started(2),
      entry('TrialCompleted', 2, { ...trial, index: 1, trialId: 't1', params: { fast: 10, slow: 50 }, workerId: 'w2' }),
    );

    expect(folded).toEqual({
      requested: { event: request.event },
      cancellationRequested: false,
      newestStartedAttempt: 2,
      abandoned: new Map([[1, 'heartbeat_lost']]),
    });
  });

  it('given a run cancelled while pending, then the cancellation is requested and the run has not ended', () => {
    const folded = state(given.requested(), given.cancellationRequested(), given.cancellationRequested());

    expect(folded.cancellationRequested).toBe(true);
    expect(folded.ended).toBeUndefined();
  });

  it("given a redelivered RunRequested, then the run's first request stays", () => {
    const first = given.requested(1, '00-first');

    const folded = state(first, given.requested(5, '00-second'));

    expect(folded.requested).toEqual({ event: first.event, traceparent: '00-first' });
  });

  it("given several ends, then the first is the run's end", () => {
    expect(state(given.requested(), given.cancelled(2), given.failed(3)).ended).toEqual({
      type: 'RunCancelled',
      attempt: 2,
    });
  });

  it('given an older RunStarted read after a newer one, then the newest started attempt stays', () => {
    expect(state(given.requested(), given.started(3), given.started(2)).newestStartedAttempt).toBe(3);
  });

  it('given two abandons of one attempt, then the last recorded counts', () => {
    const folded = state(given.requested(), given.abandoned(1, 'heartbeat_lost', 2), given.abandoned(1, 'stalled'));

    expect(folded.abandoned).toEqual(new Map([[1, 'stalled']]));
  });

  it('given a state, then folding an event leaves it as it was', () => {
    const before = state(given.requested(), given.abandoned(1, 'shutdown'));
    const snapshot = new Map(before.abandoned);

    evolveAttempts(before, given.abandoned(2, 'stalled'));

    expect(before.abandoned).toEqual(snapshot);
    expect(INITIAL_ATTEMPT_STATE.abandoned.size).toBe(0);
  });

  it('given any event it does not read, then the state is the same object', () => {
    const before = state(given.requested());
    const trial = { trialId: 't0', index: 0, params: { fast: 5 }, durationMs: 3, workerId: 'w1' };
    const others = [
      given.progressed(1, 5),
      given.logged(1),
      entry('RunProgressed', 1, { percent: 40 }),
      entry('TrialCompleted', 1, { ...trial, metrics: { sharpe: 1 }, score: 1 }),
      entry('TrialFailed', 1, { ...trial, errorMessage: 'boom', fingerprint: 'f' }),
      entry('TrialsRecorded', 1, { outcomes: [{ ...trial, metrics: {}, score: 0, status: 'Completed' }] }),
    ];
    const unread = EVENTS.map((d) => d.type).filter((t) => !(ATTEMPT_EVENT_TYPES as readonly string[]).includes(t));

    expect(others.map((o) => o.event.type).sort()).toEqual([...unread].sort());
    for (const other of others) expect(evolveAttempts(before, other)).toBe(before);
  });
});

describe('supersededBy', () => {
  it.each([
    ['nothing newer', state(given.requested(), given.started(2)), 2, undefined],
    ['an older start only', state(given.requested(), given.started(1)), 2, undefined],
    ['a newer start', state(given.requested(), given.started(3)), 2, 3],
    ['a newer end without a start', state(given.requested(), given.started(1), given.failed(2)), 1, 2],
    ['its own end', state(given.requested(), given.started(1), given.completed(1)), 1, undefined],
  ])('given %s, then attempt %i is superseded by %p', (_, history, attempt, expected) => {
    expect(supersededBy(history, attempt)).toBe(expected);
  });
});
