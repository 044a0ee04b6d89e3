import {
  clipText,
  LOG_MESSAGE_MAX,
  RUN_END_TYPES,
  type ABANDON_REASONS,
  type LogLevel,
  type EventDataInput,
  type RunEvent,
  type RunEventType,
} from '@runforge/contracts';

/**
 * What one delivery of a run's dispatch does, and how a stopped attempt is settled, as pure
 * functions of the run's history and the delivery. The worker reads the run's history once, folds
 * it with `evolveAttempts`, calls `decide`, publishes the decision's `events` in order, then
 * acknowledges the delivery as `acknowledge` says. An attempt that stops or throws reads the
 * history once more (it has moved on while the attempt ran) and does the same with `settle`. No
 * Nest, NATS, clock or randomness here.
 *
 * A run's terminal event (RunCompleted, RunFailed, RunCancelled) is its last event: a log line about
 * the end goes before it.
 *
 * `decide(state, {attempt, maxDeliver, shuttingDown})`, first row that matches:
 *
 * | given                                   | kind                | events, in order                             | then                       |
 * |-----------------------------------------|---------------------|----------------------------------------------|----------------------------|
 * | no RunRequested in the history          | orphan              | –                                            | term 'orphan'              |
 * | the run has ended                       | skip                | –                                            | ack                        |
 * | a newer attempt started or ended it     | superseded          | –                                            | none                       |
 * | its cancellation was requested          | cancel-before-start | INFO log, RunCancelled                       | ack                        |
 * | attempt ≥ maxDeliver                    | fail                | ERROR log, RunFailed attempts_exhausted      | stop ≤ attempt, term (1)   |
 * | the worker is shutting down             | hand-back           | RunAttemptAbandoned shutdown, WARNING log    | nak                        |
 * | failed attempts > maxRetries            | fail                | [lost], ERROR log, RunFailed                 | stop ≤ attempt, term (1)   |
 * | otherwise                               | start               | [lost]                                       | supersede older, back off  |
 *
 * Failed attempts are the earlier deliveries except shutdown hand-backs. [lost]: when the previous
 * attempt recorded no RunAttemptAbandoned its worker went silent, so this delivery records it
 * (RunAttemptAbandoned heartbeat_lost, then a WARNING log). A start supersedes older attempts from
 * attempt 2 on, and backs off from the second failed attempt on (1 s, doubling, at most 30 s).
 * (1) Once the end is stored, stop what older attempts still run, then never deliver it again.
 *
 * `settle(state, {attempt, stop?, error})`, for an attempt that threw; first row that matches:
 *
 * | given                                      | kind          | events, in order                               | then       |
 * |--------------------------------------------|---------------|------------------------------------------------|------------|
 * | stop superseded, or a newer attempt ran    | superseded    | –                                              | none       |
 * | the run has ended                          | already-ended | –                                              | ack        |
 * | no stop, NATS unavailable                  | retry-later   | –                                              | nak 1 s    |
 * | stop stalled / shutdown, coordinator lost  | abandon       | RunAttemptAbandoned, WARNING log               | nak        |
 * | stop timeout                               | fail          | ERROR log, RunFailed timeout                   | ack        |
 * | error aborted, or stop cancelled           | cancel        | INFO log, RunCancelled                         | ack        |
 * | otherwise                                  | fail          | ERROR log, RunFailed error                     | ack        |
 *
 * "A newer attempt ran": one has started the run or ended it (`supersededBy`, which an attempt also
 * asks before it records the run's end). If recording the events fails, the worker hands the
 * delivery back with a 1 s delay instead.
 */

type AbandonReason = (typeof ABANDON_REASONS)[number];
type RunEndType = (typeof RUN_END_TYPES)[number];
type RunRequestedEvent = Extract<RunEvent, { type: 'RunRequested' }>;

/** A run event as read back from the stream (`StoredRunEvent` from `EventBus.readHistory` is one). */
export interface HistoryEntry {
  readonly event: RunEvent;
  readonly traceparent?: string;
}

/**
 * The events `evolveAttempts` reads; it ignores the others. A server that allows several filter
 * subjects per consumer can read the run's history on these subjects alone.
 */
export const ATTEMPT_EVENT_TYPES = [
  'RunRequested',
  'RunStarted',
  ...RUN_END_TYPES,
  'RunCancellationRequested',
  'RunAttemptAbandoned',
] as const satisfies readonly RunEventType[];

/** What the decisions need to know about a run, folded from its history. */
export interface AttemptState {
  /** The run's request (its first RunRequested) and that message's trace context. */
  readonly requested?: { readonly event: RunRequestedEvent; readonly traceparent?: string };
  /** The run's end: its first RunCompleted, RunFailed or RunCancelled, and the attempt that recorded it. */
  readonly ended?: { readonly type: RunEndType; readonly attempt: number };
  readonly cancellationRequested: boolean;
  /** The newest attempt that recorded a RunStarted (0 when none has). */
  readonly newestStartedAttempt: number;
  /** Why each abandoned attempt ended, by attempt (the last RunAttemptAbandoned for it counts). */
  readonly abandoned: ReadonlyMap<number, AbandonReason>;
}

export const INITIAL_ATTEMPT_STATE: AttemptState = {
  cancellationRequested: false,
  newestStartedAttempt: 0,
  abandoned: new Map(),
};

export function evolveAttempts(state: AttemptState, { event, traceparent }: HistoryEntry): AttemptState {
  switch (event.type) {
    case 'RunRequested':
      // A redelivered request never replaces the run's request.
      if (state.requested) return state;
      return { ...state, requested: traceparent === undefined ? { event } : { event, traceparent } };
    case 'RunStarted':
      if (event.attempt <= state.newestStartedAttempt) return state;
      return { ...state, newestStartedAttempt: event.attempt };
    case 'RunCompleted':
    case 'RunFailed':
    case 'RunCancelled':
      if (state.ended) return state;
      return { ...state, ended: { type: event.type, attempt: event.attempt } };
    case 'RunCancellationRequested':
      return state.cancellationRequested ? state : { ...state, cancellationRequested: true };
    case 'RunAttemptAbandoned': {
      const abandoned = new Map(state.abandoned);
      abandoned.set(event.data.abandonedAttempt, event.data.reason);
      return { ...state, abandoned };
    }
    case 'BarProgressed':
    case 'RunProgressed':
    case 'TrialCompleted':
    case 'TrialFailed':
    case 'TrialsRecorded':
    case 'RunLogged':
      return state;
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** A run's history, folded. */
export function foldAttempts(history: Iterable<HistoryEntry>): AttemptState {
  let state = INITIAL_ATTEMPT_STATE;
  for (const entry of history) state = evolveAttempts(state, entry);
  return state;
}

/**
 * The newer attempt that has started the run or ended it, if one has: `attempt` must then record
 * nothing (checked on a fresh read before an attempt records the run's end).
 */
export function supersededBy(state: AttemptState, attempt: number): number | undefined {
  const newest = Math.max(state.newestStartedAttempt, state.ended?.attempt ?? 0);
  return newest > attempt ? newest : undefined;
}

/** An event the worker records for the attempt, as data: `RunLogged` is published through the run's log. */
type RecordedType = 'RunAttemptAbandoned' | 'RunLogged' | 'RunFailed' | 'RunCancelled';
export type EventToRecord = {
  [T in RecordedType]: { readonly type: T; readonly data: EventDataInput<T> };
}[RecordedType];

/** What the worker does with the delivery once the events are recorded. */
export type Acknowledgement =
  | { readonly kind: 'ack' }
  /** Redeliver: at once without a delay. */
  | { readonly kind: 'nak'; readonly delayMs?: number }
  /** Never deliver again. */
  | { readonly kind: 'term'; readonly reason: string }
  /** Leave it alone: the delivery belongs to a newer attempt. */
  | { readonly kind: 'none' };

const ACK = { kind: 'ack' } as const satisfies Acknowledgement;
const NAK = { kind: 'nak' } as const satisfies Acknowledgement;
const NONE = { kind: 'none' } as const satisfies Acknowledgement;
const NO_EVENTS: readonly EventToRecord[] = [];

export interface Delivery {
  /** The dispatch's delivery count. */
  readonly attempt: number;
  /** The consumer's max_deliver (≤ 0: unlimited). */
  readonly maxDeliver: number;
  readonly shuttingDown: boolean;
}

/**
 * A decision the worker carries out as it is: the events to record, in order (a run's end last), then
 * the delivery's settlement.
 */
type Settling<K extends string, Extra = unknown> = {
  readonly kind: K;
  readonly events: readonly EventToRecord[];
  readonly acknowledge: Acknowledgement;
} & Extra;

/** A newer attempt owns the run (and the delivery): nothing to record, nothing to settle. */
type Superseded = Settling<'superseded', { readonly byAttempt: number }>;
type AlreadyEnded = { readonly ended: NonNullable<AttemptState['ended']> };

export type AttemptDecision =
  | Settling<'orphan'>
  | Settling<'skip', { readonly why: 'already ended' } & AlreadyEnded>
  | Superseded
  | Settling<'cancel-before-start'>
  | Settling<
      'fail',
      {
        readonly reason: 'attempts_exhausted';
        readonly message: string;
        /**
         * Once the events are stored, stop every attempt up to this one (`RunSignals.broadcastStop`
         * with `message`): older attempts may still run trials or queue batches.
         */
        readonly stopAttemptsUpTo: number;
      }
    >
  | Settling<'hand-back'>
  | {
      readonly kind: 'start';
      /** Recorded before anything else (the previous attempt's loss). */
      readonly events: readonly EventToRecord[];
      /** Earlier deliveries that count against maxRetries (all but shutdown hand-backs). */
      readonly failedAttempts: number;
      /** Tell older attempts to stop quietly (`RunSignals.broadcastSuperseded`): this one owns the run. */
      readonly supersedeOlder: boolean;
      /** Wait this long before starting; a worker that begins shutting down meanwhile hands back (`handBack`). */
      readonly backoffMs: number;
    };

const MAX_BACKOFF_MS = 30_000;

/** A log line of the run, clipped to what a `RunLogged` carries (an error's message may fill it alone). */
function log(level: LogLevel, text: string, context?: Record<string, unknown>): EventToRecord {
  const message = clipText(text, LOG_MESSAGE_MAX);
  return { type: 'RunLogged', data: context === undefined ? { level, message } : { level, message, context } };
}

/** A delivery this stopping worker does not start: a shutdown hand-back, which maxRetries does not count. */
export function handBack(attempt: number): Extract<AttemptDecision, { kind: 'hand-back' }> {
  const detail = 'worker shutting down; handed back before starting';
  return {
    kind: 'hand-back',
    events: [
      { type: 'RunAttemptAbandoned', data: { abandonedAttempt: attempt, reason: 'shutdown', detail } },
      log('WARNING', `attempt ${attempt} abandoned: ${detail}`),
    ],
    acknowledge: NAK,
  };
}

function attemptsExhausted(
  attempt: number,
  message: string,
  before: readonly EventToRecord[],
  termReason: string,
): Extract<AttemptDecision, { kind: 'fail' }> {
  return {
    kind: 'fail',
    reason: 'attempts_exhausted',
    message,
    events: [
      ...before,
      log('ERROR', message),
      { type: 'RunFailed', data: { errorMessage: message, reason: 'attempts_exhausted' } },
    ],
    stopAttemptsUpTo: attempt,
    acknowledge: { kind: 'term', reason: termReason },
  };
}

function exhaustedCause(lastReason: AbandonReason | undefined, failed: number): string {
  switch (lastReason) {
    case 'stalled':
      return 'the last attempt stopped making progress';
    case 'coordinator_lost':
      return "the last attempt's coordinator lost the run's history";
    case 'timeout':
      return failed === 1 ? 'its attempt ran out of time' : 'each attempt ran out of time';
    case 'heartbeat_lost':
    case 'shutdown':
    case undefined:
      return failed === 1
        ? 'its attempt lost its worker before finishing'
        : 'each attempt lost its worker before finishing';
    default: {
      const never: never = lastReason;
      return never;
    }
  }
}

export function decide(state: AttemptState, delivery: Delivery): AttemptDecision {
  const { attempt } = delivery;
  if (!state.requested) return { kind: 'orphan', events: NO_EVENTS, acknowledge: { kind: 'term', reason: 'orphan' } };
  // Already finished (an earlier attempt's ack was lost).
  if (state.ended)
    return { kind: 'skip', why: 'already ended', ended: state.ended, events: NO_EVENTS, acknowledge: ACK };
  const by = supersededBy(state, attempt);
  if (by !== undefined) return { kind: 'superseded', byAttempt: by, events: NO_EVENTS, acknowledge: NONE };
  if (state.cancellationRequested) {
    const reason = 'cancelled before it started';
    return {
      kind: 'cancel-before-start',
      events: [log('INFO', `run ${reason}`), { type: 'RunCancelled', data: { processedBars: 0, reason } }],
      acknowledge: ACK,
    };
  }
  // The dispatch's last possible delivery must end the run, or JetStream would stop delivering it
  // and leave it unfinished.
  if (delivery.maxDeliver > 0 && attempt >= delivery.maxDeliver) {
    const message = `run failed: its dispatch reached the delivery limit (${attempt} deliveries, most of them handed back by workers shutting down)`;
    return attemptsExhausted(attempt, message, NO_EVENTS, 'delivery limit');
  }
  if (delivery.shuttingDown) return handBack(attempt);
  if (attempt <= 1) return { kind: 'start', events: NO_EVENTS, failedAttempts: 0, supersedeOlder: false, backoffMs: 0 };

  const previous = attempt - 1;
  const abandoned = new Map(state.abandoned);
  // The previous delivery may have recorded its own end (stall, shutdown, lost history); otherwise
  // its worker went silent (died, or was cut off past its lease).
  const silent = !abandoned.has(previous);
  if (silent) abandoned.set(previous, 'heartbeat_lost');
  const shutdowns = [...abandoned.values()].filter((why) => why === 'shutdown').length;
  const failed = previous - shutdowns;
  const maxRetries = state.requested.event.data.request.maxRetries;
  const exhausted = failed >= maxRetries + 1;
  const lost: EventToRecord[] = silent
    ? [
        { type: 'RunAttemptAbandoned', data: { abandonedAttempt: previous, reason: 'heartbeat_lost' } },
        log(
          'WARNING',
          `attempt ${previous} lost its worker; ${exhausted ? 'no retries left' : `retrying as attempt ${attempt}`}`,
        ),
      ]
    : [];
  if (exhausted) {
    const attempts = failed === 1 ? '1 failed attempt' : `${failed} failed attempts`;
    const message = `run failed after ${attempts} (maxRetries ${maxRetries}): ${exhaustedCause(abandoned.get(previous), failed)}`;
    return attemptsExhausted(attempt, message, lost, 'attempts exhausted');
  }
  // A run that keeps killing workers must not spin: back off from the second failed attempt on.
  const backoffMs = failed >= 2 ? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failed - 2)) : 0;
  return { kind: 'start', events: lost, failedAttempts: failed, supersedeOlder: true, backoffMs };
}

/** Why an attempt's work was stopped: the worker's `StopReason` is one. */
export type AttemptStop =
  | { readonly kind: 'cancelled' }
  /** `retryable`: the kind declared its timeouts retryable (a program that talks to the outside world). */
  | { readonly kind: 'timeout'; readonly seconds: number; readonly retryable?: boolean }
  | { readonly kind: 'stopped'; readonly message: string }
  | { readonly kind: 'stalled'; readonly seconds: number }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'superseded'; readonly byAttempt: number };

export interface ErrorFields {
  readonly errorMessage: string;
  readonly errorStackTrace?: string;
  readonly errorCode?: string;
}

/** What an attempt threw, classified by the worker (`errorFieldsOf` gives the fields). */
export type AttemptError =
  /** The run's work stopped on its signal (`RunAbortedError`), a backtest saying how far it got. */
  | { readonly kind: 'aborted'; readonly processedBars?: number }
  /** The coordinator's history ended without anything asking it to stop. */
  | { readonly kind: 'coordinator-lost'; readonly message: string }
  /** NATS did not answer (an outage mid-run): not the run's fault. */
  | { readonly kind: 'nats-unavailable'; readonly fields: ErrorFields }
  | { readonly kind: 'error'; readonly fields: ErrorFields };

export interface StoppedAttempt {
  readonly attempt: number;
  /** The attempt's stop reason, when its signal was aborted. */
  readonly stop?: AttemptStop;
  readonly error: AttemptError;
}

export type SettleDecision =
  | Superseded
  | Settling<'already-ended', AlreadyEnded>
  | Settling<'retry-later'>
  | Settling<'abandon', { readonly reason: Exclude<AbandonReason, 'heartbeat_lost'> }>
  /** `message`: what the ERROR log line says. */
  | Settling<'fail', { readonly reason: 'timeout' | 'error'; readonly message: string }>
  | Settling<'cancel'>;

/** The attempt gives the run back without ending it; the next delivery takes over. */
function abandon(
  attempt: number,
  reason: Exclude<AbandonReason, 'heartbeat_lost'>,
  detail: string,
): Extract<SettleDecision, { kind: 'abandon' }> {
  return {
    kind: 'abandon',
    reason,
    events: [
      { type: 'RunAttemptAbandoned', data: { abandonedAttempt: attempt, reason, detail } },
      log('WARNING', `attempt ${attempt} abandoned: ${detail}`),
    ],
    acknowledge: NAK,
  };
}

export function settle(state: AttemptState, { attempt, stop, error }: StoppedAttempt): SettleDecision {
  // Recording a failure, a cancel or a hand-back is not for an attempt a newer one replaced; the
  // newer attempt owns the delivery too.
  const by = stop?.kind === 'superseded' ? stop.byAttempt : supersededBy(state, attempt);
  if (by !== undefined) return { kind: 'superseded', byAttempt: by, events: NO_EVENTS, acknowledge: NONE };
  // The run's terminal event stays its last one.
  if (state.ended) return { kind: 'already-ended', ended: state.ended, events: NO_EVENTS, acknowledge: ACK };
  // An outage mid-run: hand the run back; the next attempt resumes it, recording this one as lost.
  if (!stop && error.kind === 'nats-unavailable')
    return { kind: 'retry-later', events: NO_EVENTS, acknowledge: { kind: 'nak', delayMs: 1000 } };
  // A clean deploy, an attempt whose progress stopped moving, or a coordinator that lost the run's
  // history: hand the run back at once (no waiting for the heartbeat timeout) and say why.
  if (stop?.kind === 'stalled') return abandon(attempt, 'stalled', `no progress for ${stop.seconds} s (stallSeconds)`);
  if (stop?.kind === 'shutdown') return abandon(attempt, 'shutdown', 'worker shutting down');
  if (error.kind === 'coordinator-lost') return abandon(attempt, 'coordinator_lost', error.message);

  const progress =
    error.kind === 'aborted' && error.processedBars !== undefined ? { processedBars: error.processedBars } : {};
  if (stop?.kind === 'timeout' && stop.retryable)
    return abandon(attempt, 'timeout', `attempt exceeded its time budget of ${stop.seconds} s (timeoutSeconds)`);
  if (stop?.kind === 'timeout') {
    const message = `run exceeded its time budget of ${stop.seconds} s (timeoutSeconds) and was stopped`;
    return {
      kind: 'fail',
      reason: 'timeout',
      message,
      events: [
        log('ERROR', message),
        { type: 'RunFailed', data: { errorMessage: message, reason: 'timeout', ...progress } },
      ],
      acknowledge: ACK,
    };
  }
  if (error.kind === 'aborted' || stop?.kind === 'cancelled') {
    const after = progress.processedBars !== undefined ? ` after ${progress.processedBars} bars` : '';
    return {
      kind: 'cancel',
      events: [
        log('INFO', `run cancelled${after}`),
        { type: 'RunCancelled', data: { ...progress, reason: 'cancelled by request' } },
      ],
      acknowledge: ACK,
    };
  }
  const { errorMessage, errorStackTrace, errorCode } = error.fields;
  const message = `run failed: ${errorMessage}`;
  return {
    kind: 'fail',
    reason: 'error',
    message,
    events: [
      log('ERROR', message, errorCode === undefined ? undefined : { errorCode }),
      {
        type: 'RunFailed',
        data: {
          errorMessage,
          ...(errorStackTrace === undefined ? {} : { errorStackTrace }),
          ...(errorCode === undefined ? {} : { errorCode }),
          reason: 'error',
        },
      },
    ],
    acknowledge: ACK,
  };
}
