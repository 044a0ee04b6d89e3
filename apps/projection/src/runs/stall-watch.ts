/** What the stall watch concluded from one look at the stream and the checkpoint. */
export interface StallState {
  /** True while events wait and the checkpoint has not moved for at least the stall bound. */
  readonly stalled: boolean;
  readonly streamSeq: number;
  readonly appliedSeq: number;
  readonly lag: number;
  /** How long the checkpoint has stood still with events waiting (0 when caught up or moving). */
  readonly stillForMs: number;
}

/** What the watch asks its owner to log after a look. */
export type StallNotice = 'stalled' | 'still-stalled' | 'recovered' | undefined;

/**
 * Decides, from successive looks at the stream's last sequence and the checkpoint, whether the
 * projection is making progress: it is stalled when events wait (lag > 0) and the checkpoint has
 * not moved for `stallMs`. Time is passed in, so the decision is a pure function of its inputs.
 * A stall is announced once, then again every `stallMs` while it lasts, and its end once.
 */
export class StallWatch {
  private movedAt?: number;
  private lastApplied?: number;
  private announcedAt?: number;
  private current: StallState = { stalled: false, streamSeq: 0, appliedSeq: 0, lag: 0, stillForMs: 0 };

  constructor(private readonly stallMs: number) {}

  get state(): StallState {
    return this.current;
  }

  look(nowMs: number, streamSeq: number, appliedSeq: number): StallNotice {
    const lag = Math.max(0, streamSeq - appliedSeq);
    if (this.lastApplied !== appliedSeq || lag === 0 || this.movedAt === undefined) {
      this.movedAt = nowMs;
      this.lastApplied = appliedSeq;
    }
    const stillForMs = lag === 0 ? 0 : nowMs - this.movedAt;
    const stalled = lag > 0 && stillForMs >= this.stallMs;
    const was = this.current.stalled;
    this.current = { stalled, streamSeq, appliedSeq, lag, stillForMs };
    if (!stalled) {
      this.announcedAt = undefined;
      return was ? 'recovered' : undefined;
    }
    if (!was || this.announcedAt === undefined) {
      this.announcedAt = nowMs;
      return 'stalled';
    }
    if (nowMs - this.announcedAt >= this.stallMs) {
      this.announcedAt = nowMs;
      return 'still-stalled';
    }
    return undefined;
  }
}
