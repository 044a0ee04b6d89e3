import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONSUMER_SETTINGS, eventDefinition, HEADERS, type RunEvent, type RunView } from '@runforge/contracts';
import { JetStreamServer, type BatchMessage } from '@runforge/messaging';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { setProjectionAppliedSeq } from '@runforge/telemetry';
import type { PoolClient, QueryResult } from 'pg';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { applyBatch, PROJECTION_NAME, readCheckpoint, traceIdFor, type ProjectedMessage } from './runs.projection';
import { ProjectionObserver } from './projection.observer';
import { StallWatch, type StallState } from './stall-watch';

export const MAX_BATCH = 1000;
/** How long a batch waits for more events after its first one arrived. */
export const LINGER_MS = Number(process.env.PROJECTION_LINGER_MS ?? 2);
/**
 * Routine events — trial outcomes, progress, log lines, the bulk of a busy stream — are applied in
 * batches at most one per this interval, so a steady stream costs a few transactions a second; a
 * batch holding any other event (a run's state changing: requested, started, ended, cancellation
 * asked, attempt abandoned) closes LINGER_MS after it arrived, so status reads see it within
 * milliseconds (see docs/architecture.md#projection-batches).
 */
export const BATCH_INTERVAL_MS = Number(process.env.PROJECTION_BATCH_INTERVAL_MS ?? 200);
const ROUTINE_TOKENS = new Set(
  (['TrialCompleted', 'TrialFailed', 'TrialsRecorded', 'BarProgressed', 'RunProgressed', 'RunLogged'] as const).map(
    (t) => eventDefinition(t).token,
  ),
);
/** Whether an event (by its subject's last token) changes a run's state rather than reporting progress. */
export function isUrgentSubject(subject: string): boolean {
  return !ROUTINE_TOKENS.has(subject.slice(subject.lastIndexOf('.') + 1));
}
/** Rows the projection keeps of the runs it wrote last, so a batch reads only runs it has not seen. */
const KNOWN_RUNS_MAX = 20_000;
/** How long a delivered event may wait for its batch to commit before NATS delivers it again. */
export const ACK_WAIT_SECONDS = Number(
  process.env.PROJECTION_ACK_WAIT_SECONDS ?? CONSUMER_SETTINGS.projection.ackWaitSeconds,
);
/** Session advisory lock: one active projection per schema, so events apply in stream order. */
export const LEADER_LOCK = 0x52_46_50_4a; // "RFPJ"
/**
 * Write fence: every batch transaction takes it shared, a rebuild's swap takes it exclusive, so the
 * swap waits for the batch in flight and the next batch waits for the swap (see rebuild/rebuild.ts).
 * A sibling key of the leader lock, because the leader lock is held by a session for its lifetime.
 */
export const WRITE_FENCE_LOCK = 0x52_46_50_57; // "RFPW"
/** `text` as a SQL string literal (for the one statement that cannot take parameters). */
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** The transport's gate the projection's batches wait on: open while this instance leads. */
export const LEADER_GATE = 'projection-leader';
/**
 * How often the leader asks Postgres whether its lock session is alive, and how long it waits for
 * the answer: a session that died (Postgres restarted, backend terminated) or does not answer means
 * the lock may be someone else's, so the leader stops consuming at once and tries to acquire again.
 */
export const LEADER_CHECK_MS = Number(process.env.PROJECTION_LEADER_CHECK_MS ?? 1000);
export const LEADER_CHECK_TIMEOUT_MS = Number(process.env.PROJECTION_LEADER_CHECK_TIMEOUT_MS ?? 2000);
/** How often a standby tries to take the lock. */
export const LEADER_RETRY_MS = Number(process.env.PROJECTION_LEADER_RETRY_MS ?? 1000);
/**
 * Postgres ends the lock session after this long without a statement (`idle_session_timeout`, PG ≥ 14),
 * so the lock of a leader that froze or lost its network frees itself instead of waiting for TCP keepalive.
 */
export const LEADER_SESSION_IDLE_MS = Math.max(
  Number(process.env.PROJECTION_LEADER_SESSION_IDLE_MS ?? 10_000),
  3 * LEADER_CHECK_MS,
);
/** Events waiting and the checkpoint still for this long: the projection is stalled (not ready, a WARNING). */
export const STALL_SECONDS = Number(process.env.PROJECTION_STALL_SECONDS ?? 30);

export interface ProjectionLag {
  /** Last sequence stored in the stream. */
  readonly streamSeq: number;
  /** Last sequence applied to the read models (the checkpoint). */
  readonly appliedSeq: number;
  /** Messages stored but not applied yet (upper bound: sequences, gaps included). */
  readonly lag: number;
  /** Whether this instance holds the leadership (a standby applies nothing). */
  readonly leader: boolean;
}

/** Raised by a batch that finds this instance's lock session no longer holds the leadership. */
export class LeadershipLostError extends Error {
  readonly code = 'PROJECTION_LEADERSHIP_LOST';
  constructor(pid: number | undefined) {
    super(`leader lock session ${pid ?? '(none)'} no longer holds the lock; the batch is rolled back`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects with a timeout error unless `p` settles within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * What a batch applies: its messages above the checkpoint, each sequence once, in stream order —
 * not in arrival order. Redeliveries (a batch held past the ack wait) arrive after newer messages;
 * applied as they came, a run's end was folded before outcomes it must count, and a batch whose
 * last arrival was an old redelivery looked already applied, so it was acked and skipped whole.
 * `lastSeq` is the highest sequence seen, the checkpoint once the batch commits.
 */
export function selectBatch<M extends { readonly seq: number }>(
  msgs: readonly M[],
  appliedSeq: number,
): { fresh: M[]; lastSeq: number } {
  const bySeq = new Map<number, M>();
  let lastSeq = appliedSeq;
  for (const m of msgs) {
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (m.seq > appliedSeq && !bySeq.has(m.seq)) bySeq.set(m.seq, m);
  }
  return { fresh: [...bySeq.values()].sort((a, b) => a.seq - b.seq), lastSeq };
}

/**
 * Folds `runs.>` into Postgres (its batches are delivered by the transport to
 * RunsProjectionController). The checkpoint (last applied stream sequence) is stored in the same
 * transaction as the rows; messages are acked only after commit. Because the checkpoint is the truth,
 * the transport (re)creates the durable consumer to start right after it, and a message at or below
 * it is acked without effect: a restart or redelivery never double-applies. One instance leads (a
 * Postgres advisory lock); the transport consumes only while it does.
 */
@Injectable()
export class ProjectionConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ProjectionConsumer.name);
  private stopped = false;
  private lockRunner?: QueryRunner;
  /** The Postgres backend pid of the session holding the leader lock (what a batch checks). */
  private lockPid?: number;
  /** Settles when the lock session's connection reports an error or its end. */
  private sessionLost?: Promise<void>;
  private leadership?: Promise<void>;
  appliedSeq = 0;
  /**
   * The rows this instance wrote, as it wrote them (most recent last). Valid while the stored
   * checkpoint is the one this instance wrote last: anything else that wrote (a rebuild's swap, a
   * former leader) moved it, and the cache is dropped.
   */
  private readonly known = new Map<string, RunView>();
  private observer?: ProjectionObserver;
  private leader = false;
  private readonly stall = new StallWatch(STALL_SECONDS * 1000);
  private stallTimer?: NodeJS.Timeout;

  constructor(
    private readonly messaging: Messaging,
    private readonly transport: JetStreamServer,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {
    // Where the transport starts the projection's consumer: right after the stored checkpoint.
    transport.useStartSequence(async () => {
      this.appliedSeq = await readCheckpoint(this.db.manager, this.cfg.dbSchema);
      setProjectionAppliedSeq(this.appliedSeq);
      return this.appliedSeq;
    });
  }

  onApplicationBootstrap(): void {
    this.leadership = this.lead();
    const every = Math.max(250, Math.min(5000, (STALL_SECONDS * 1000) / 4));
    this.stallTimer = setInterval(() => void this.watchProgress(), every);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.stallTimer);
    await this.leadership?.catch(() => undefined);
    await this.lockRunner?.release().catch(() => undefined);
  }

  /** The last look at progress: stalled while events wait and the checkpoint stands still. */
  get progress(): StallState {
    return this.stall.state;
  }

  /**
   * Leads while the lock session lives, stands by otherwise, for the life of the process: acquire
   * the lock, open the gate, check the session every LEADER_CHECK_MS; a failed or unanswered check
   * closes the gate at once (the batch in flight is refused at commit, see `apply`), drops the
   * session and starts acquiring again on a new one. The transport resumes from the checkpoint.
   */
  private async lead(): Promise<void> {
    while (!this.stopped) {
      try {
        if (await this.acquireLock()) {
          this.leader = true;
          this.transport.setGate(LEADER_GATE, true);
          this.log.log(`leading: holding the projection lock (session ${this.lockPid})`);
          await this.holdLock();
        }
      } catch (err) {
        if (!this.stopped) this.log.warn({ err }, `projection lock session failed: ${(err as Error).message}`);
      }
      if (this.leader) {
        this.leader = false;
        this.transport.setGate(LEADER_GATE, false);
        if (!this.stopped)
          this.log.warn(`lost the projection lock (session ${this.lockPid}): stopped consuming; acquiring again`);
      }
      this.lockPid = undefined;
      const runner = this.lockRunner;
      this.lockRunner = undefined;
      await runner?.release().catch(() => undefined);
      if (!this.stopped) await sleep(LEADER_RETRY_MS);
    }
  }

  /** Takes the lock on a fresh session; false once stopped. Polls while another instance holds it. */
  private async acquireLock(): Promise<boolean> {
    const runner = (this.lockRunner = this.db.createQueryRunner());
    const client = (await within(runner.connect(), LEADER_CHECK_TIMEOUT_MS, 'connecting the lock session')) as {
      once(event: 'error' | 'end', listener: () => void): void;
    };
    // A terminated backend or a Postgres shutdown ends the session at once: lose the lead then, not
    // at the next check (a standby polling for the lock must never find it free while this one leads).
    this.sessionLost = new Promise((resolve) => {
      client.once('error', () => resolve());
      client.once('end', () => resolve());
    });
    await runner.query(`SET idle_session_timeout = ${Math.round(LEADER_SESSION_IDLE_MS)}`).catch(() => undefined); // before PostgreSQL 14: no such setting, the TCP keepalive ends a dead session
    const [{ pid }] = (await runner.query('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
    let announced = false;
    while (!this.stopped) {
      const rows = (await within(
        runner.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LEADER_LOCK, this.cfg.dbSchema]),
        LEADER_CHECK_TIMEOUT_MS,
        'taking the projection lock',
      )) as { ok: boolean }[];
      if (rows[0]?.ok) {
        this.lockPid = pid;
        return true;
      }
      if (!announced) this.log.log('another projection instance is active; standing by');
      announced = true;
      await sleep(LEADER_RETRY_MS);
    }
    return false;
  }

  /** Returns (or throws) when the lock session is gone or stops answering; never while it lives. */
  private async holdLock(): Promise<void> {
    const runner = this.lockRunner as QueryRunner;
    let lost = false;
    void this.sessionLost?.then(() => (lost = true));
    while (!this.stopped && !lost) {
      await Promise.race([sleep(LEADER_CHECK_MS), this.sessionLost]);
      if (this.stopped || lost) return;
      // A live session still holds its session lock: answering is proof enough.
      await within(runner.query('SELECT 1'), LEADER_CHECK_TIMEOUT_MS, 'checking the lock session');
    }
  }

  /** One look at progress; logs a stall as a WARNING with the numbers, and its end. */
  private async watchProgress(): Promise<void> {
    let lag: ProjectionLag;
    try {
      lag = await within(this.lag(), LEADER_CHECK_TIMEOUT_MS, 'reading the lag');
    } catch {
      return; // NATS or Postgres unreachable: their own readiness checks say so
    }
    const notice = this.stall.look(performance.now(), lag.streamSeq, lag.appliedSeq);
    const s = this.stall.state;
    const numbers = { ...lag, stalledSeconds: Math.round(s.stillForMs / 1000) };
    if (notice === 'stalled' || notice === 'still-stalled') {
      this.log.warn(
        numbers,
        `projection stalled: checkpoint ${lag.appliedSeq} has not moved for ${numbers.stalledSeconds} s ` +
          `while ${lag.lag} event(s) wait (stream at ${lag.streamSeq}, leader: ${lag.leader})`,
      );
    } else if (notice === 'recovered') {
      this.log.warn(numbers, `projection progressing again: checkpoint ${lag.appliedSeq}, lag ${lag.lag}`);
    }
  }

  /**
   * How far the read models trail the stream. The applied side is the stored checkpoint, so a
   * standby (or a rebuild that swapped the tables) reports the truth, not this process's memory.
   */
  async lag(): Promise<ProjectionLag> {
    const [info, appliedSeq] = await Promise.all([
      this.messaging.jsm.streams.info(this.cfg.topology.streams.runs.name),
      readCheckpoint(this.db.manager, this.cfg.dbSchema),
    ]);
    const streamSeq = info.state.last_seq;
    return { streamSeq, appliedSeq, lag: Math.max(0, streamSeq - appliedSeq), leader: this.leader };
  }

  /**
   * Applies a delivered batch: its messages above the checkpoint, each once, in stream order, and moves
   * the checkpoint to the highest sequence seen. Throws if it could not commit (the transport then
   * restarts from the checkpoint, which keeps the stream order).
   */
  async applyDelivered(msgs: readonly BatchMessage<RunEvent>[]): Promise<void> {
    const observer = (this.observer ??= new ProjectionObserver(this.cfg));
    const { fresh, lastSeq } = selectBatch(msgs, this.appliedSeq);
    await observer.observe(fresh, this.appliedSeq, async () => {
      const views = await this.apply(fresh, lastSeq);
      return { appliedSeq: this.appliedSeq, views };
    });
  }

  /**
   * Runs `fn` in a batch transaction, handing it the stored checkpoint: the transaction begins, takes
   * the write fence shared (a rebuild's swap takes it exclusive), checks that this instance's lock
   * session still holds the leadership (else LeadershipLostError) and reads the checkpoint locked, in
   * one round trip (three statements in one simple query), then commits after `fn`.
   */
  private async inBatchTransaction<T>(fn: (em: EntityManager, stored: number) => Promise<T>): Promise<T> {
    const runner = this.db.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    const schema = this.cfg.dbSchema;
    try {
      // The write fence, and whether this instance's lock session still holds the leader lock: a
      // leader that lost it (its session ended) must not commit what it had in flight.
      const opened = (await client.query(
        `BEGIN;
         SELECT pg_advisory_xact_lock_shared(${WRITE_FENCE_LOCK}, hashtext(${literal(schema)})),
           EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ${Math.trunc(this.lockPid ?? 0)}
             AND classid = ${LEADER_LOCK}::oid AND objid = hashtext(${literal(schema)})::oid AND objsubid = 2) AS leading;
         SELECT last_seq FROM "${schema}".projection_checkpoints WHERE name = ${literal(PROJECTION_NAME)} FOR UPDATE`,
      )) as unknown as [QueryResult, QueryResult<{ leading: boolean }>, QueryResult<{ last_seq: string }>];
      if (!opened[1].rows[0]?.leading) throw new LeadershipLostError(this.lockPid);
      const row = opened[2].rows[0];
      const result = await fn(runner.manager, row ? Number(row.last_seq) : 0);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  /** Applies `msgs` (in stream order, above the checkpoint) and moves the checkpoint to `lastSeq`. */
  private async apply(msgs: readonly BatchMessage<RunEvent>[], lastSeq: number): Promise<ReadonlyMap<string, RunView>> {
    const batch: ProjectedMessage[] = [];
    for (const m of msgs) {
      if (m.data === undefined) {
        // A projection never rejects a recorded fact; an undecodable message is logged and skipped.
        this.log.error({ err: m.error, seq: m.seq, subject: m.subject }, 'undecodable event skipped');
        continue;
      }
      batch.push({ seq: m.seq, event: m.data, traceId: traceIdFor(m.data, () => m.headers?.get(HEADERS.traceparent)) });
    }
    if (lastSeq <= this.appliedSeq) return new Map();
    const mine = this.appliedSeq;
    try {
      const { applied, views } = await this.inBatchTransaction(async (em, stored) => {
        // Someone else wrote since this instance's last batch: its rows are not the stored ones.
        if (stored !== mine) this.known.clear();
        const fresh = batch.filter((b) => b.seq > stored);
        // A rebuild may have swapped in tables that are already past this batch: never go back.
        const applied = Math.max(stored, lastSeq);
        const views = await applyBatch(em, this.cfg.dbSchema, fresh, this.known, applied);
        return { applied, views };
      });
      this.appliedSeq = applied;
      for (const [id, view] of views) {
        this.known.delete(id);
        this.known.set(id, view);
      }
      for (const id of this.known.keys()) {
        if (this.known.size <= KNOWN_RUNS_MAX) break;
        this.known.delete(id);
      }
      setProjectionAppliedSeq(this.appliedSeq);
      return views;
    } catch (err) {
      // Not committed: what the cache holds may be ahead of the stored rows.
      this.known.clear();
      throw err;
    }
  }
}
