import type { LogLevel } from '@runforge/contracts';
import type { ProgramLimits } from '@runforge/submission';

/**
 * Reading a program's output (JOBS.md "Program kinds"): stdout lines are `PROGRESS:<0-100>`,
 * `<LEVEL>: <message>` or `RESULT:<json>`; stderr lines are warnings. Everything here is bounded
 * by the kind's limits and takes its clock from the caller, so tests drive it line by line.
 */

export type ProgramLine =
  | { readonly type: 'progress'; readonly percent: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  | { readonly type: 'result'; readonly value: unknown }
  | { readonly type: 'blank' };

const LEVEL_LINE = /^(DEBUG|INFO|WARNING|ERROR):\s?(.*)$/s;
const PROGRESS = 'PROGRESS:';
const RESULT = 'RESULT:';

/** What one stdout line says. Anything unrecognised (a malformed PROGRESS too) is an INFO log of the whole line. */
export function parseStdoutLine(line: string): ProgramLine {
  if (line.trim() === '') return { type: 'blank' };
  if (line.startsWith(PROGRESS)) {
    const text = line.slice(PROGRESS.length).trim();
    const percent = text === '' ? NaN : Number(text);
    if (Number.isFinite(percent)) return { type: 'progress', percent: Math.min(100, Math.max(0, percent)) };
    return { type: 'log', level: 'INFO', message: line };
  }
  if (line.startsWith(RESULT)) {
    try {
      return { type: 'result', value: JSON.parse(line.slice(RESULT.length)) as unknown };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { type: 'log', level: 'WARNING', message: `ignored a RESULT line that is not valid JSON (${why})` };
    }
  }
  const level = LEVEL_LINE.exec(line);
  if (level) return { type: 'log', level: level[1] as LogLevel, message: level[2] ?? '' };
  return { type: 'log', level: 'INFO', message: line };
}

export interface SplitLine {
  readonly text: string;
  /** The line was longer than its bound: `text` is its beginning. */
  readonly cut: boolean;
}

const NEWLINE = 0x0a;
const RESULT_BYTES = Buffer.from(RESULT);

/**
 * Splits a byte stream into lines, holding at most one line's bound in memory: a line longer than
 * `maxLineBytes` (`maxResultBytes` for a `RESULT:` line) is cut there and the rest of it skipped up
 * to its newline, so a program printing a gigabyte without a newline costs a few KiB.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The current line was cut: its remaining bytes are dropped up to the next newline. */
  private skipping = false;
  /** The current line's bound, once it has outgrown maxLineBytes. */
  private lineLimit: number | undefined;

  constructor(private readonly limits: Pick<ProgramLimits, 'maxLineBytes' | 'maxResultBytes'>) {}

  /** Bytes held for the unfinished line (bounded by the larger limit). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): SplitLine[] {
    const lines: SplitLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.skipping) {
        const cutLine = this.append(chunk.subarray(start, end));
        if (cutLine) lines.push(cutLine);
        else if (newline !== -1) lines.push(this.take(false));
      }
      if (newline === -1) break;
      this.skipping = false;
      start = newline + 1;
    }
    return lines;
  }

  /** The last line, if the stream ended without a newline. */
  end(): SplitLine[] {
    this.skipping = false;
    return this.pendingBytes > 0 ? [this.take(false)] : [];
  }

  /** Adds a piece of the current line; returns the line, cut, if the piece takes it over its bound. */
  private append(piece: Buffer): SplitLine | undefined {
    if (piece.length === 0) return undefined;
    const total = this.pendingBytes + piece.length;
    const limit = total <= this.limits.maxLineBytes ? total : (this.lineLimit ??= this.limitOf(piece));
    if (total <= limit) {
      // Copied: a view would keep the whole chunk alive while the line waits for its newline.
      this.pending.push(Buffer.from(piece));
      this.pendingBytes = total;
      return undefined;
    }
    this.pending.push(piece.subarray(0, limit - this.pendingBytes));
    this.pendingBytes = limit;
    this.skipping = true;
    return this.take(true);
  }

  /** Decided once the line outgrows maxLineBytes (≥ 64 bytes), so its head is known by then. */
  private limitOf(piece: Buffer): number {
    const head = Buffer.concat([...this.pending, piece]).subarray(0, RESULT_BYTES.length);
    return head.equals(RESULT_BYTES)
      ? Math.max(this.limits.maxResultBytes, this.limits.maxLineBytes)
      : this.limits.maxLineBytes;
  }

  private take(cut: boolean): SplitLine {
    let bytes = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.lineLimit = undefined;
    if (cut) bytes = bytes.subarray(0, completeUtf8Length(bytes));
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return { text, cut };
  }
}

/** How many leading bytes hold whole UTF-8 characters: a cut must not split one. */
function completeUtf8Length(bytes: Buffer): number {
  let lead = bytes.length - 1;
  // Step back over continuation bytes (10xxxxxx) to the last character's first byte.
  while (lead > 0 && bytes.length - lead < 4 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead--;
  const first = bytes[lead] ?? 0;
  let size = 1;
  if (first >= 0xf0) size = 4;
  else if (first >= 0xe0) size = 3;
  else if (first >= 0xc0) size = 2;
  return lead + size > bytes.length ? lead : bytes.length;
}

export type LogSink = (level: LogLevel, message: string) => void;

/**
 * Bounds the log lines a run publishes: at most `maxLinesPerSecond` per (clock) second — the rest
 * are counted and reported in one warning when the second is over — and `maxLogBytes` in all,
 * after which log lines are dropped and counted. Its own warnings pass unbounded (a few per second).
 */
export class LogGate {
  private second = Number.NEGATIVE_INFINITY;
  private inSecond = 0;
  private droppedInSecond = 0;
  private loggedBytes = 0;
  private overBudget = false;
  private droppedOverBudget = 0;

  constructor(
    private readonly limits: Pick<ProgramLimits, 'maxLinesPerSecond' | 'maxLogBytes'>,
    private readonly emit: LogSink,
  ) {}

  log(level: LogLevel, message: string, nowMs: number): void {
    this.roll(nowMs);
    if (this.overBudget) {
      this.droppedOverBudget++;
      return;
    }
    if (this.inSecond >= this.limits.maxLinesPerSecond) {
      this.droppedInSecond++;
      return;
    }
    const bytes = Buffer.byteLength(message);
    if (this.loggedBytes + bytes > this.limits.maxLogBytes) {
      this.overBudget = true;
      this.droppedOverBudget++;
      this.emit(
        'WARNING',
        `log limit reached (${this.loggedBytes} of ${this.limits.maxLogBytes} bytes logged): ` +
          'further log lines are dropped; progress and the result still count',
      );
      return;
    }
    this.inSecond++;
    this.loggedBytes += bytes;
    this.emit(level, message);
  }

  /** Ends the current second if the clock has moved past it (reporting what it dropped). */
  roll(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second === this.second) return;
    this.reportDroppedInSecond();
    this.second = second;
    this.inSecond = 0;
  }

  /** At the program's end: what is still unreported. */
  finish(): void {
    this.reportDroppedInSecond();
    if (this.droppedOverBudget > 0) {
      this.emit('WARNING', `${this.droppedOverBudget} log lines were dropped after the log limit was reached`);
      this.droppedOverBudget = 0;
    }
  }

  private reportDroppedInSecond(): void {
    if (this.droppedInSecond === 0) return;
    this.emit(
      'WARNING',
      `dropped ${this.droppedInSecond} log lines: more than ${this.limits.maxLinesPerSecond} in one second`,
    );
    this.droppedInSecond = 0;
  }
}

export interface ProgramOutputSink {
  onProgress(percent: number): void;
  onLog: LogSink;
}

export interface ProgramOutputEnd {
  /** Present when a valid `RESULT:` line was printed (the last one wins). */
  readonly result?: { readonly value: unknown };
  /** The last ERROR and stderr lines, oldest first (kept even when their logs were dropped). */
  readonly errorTail: string[];
}

export const ERROR_TAIL_LINES = 10;

/** A program's stdout and stderr, interpreted and bounded; `now` is a monotonic clock in ms. */
export class ProgramOutput {
  private readonly out: LineSplitter;
  private readonly err: LineSplitter;
  private readonly gate: LogGate;
  private result: { value: unknown } | undefined;
  private lastPercent = Number.NaN;
  private readonly errorTail: string[] = [];
  private cutReported = false;

  constructor(
    private readonly limits: ProgramLimits,
    private readonly sink: ProgramOutputSink,
    private readonly now: () => number,
  ) {
    this.out = new LineSplitter(limits);
    this.err = new LineSplitter(limits);
    this.gate = new LogGate(limits, sink.onLog);
  }

  stdout(chunk: Buffer): void {
    for (const line of this.out.push(chunk)) this.stdoutLine(line);
  }

  stderr(chunk: Buffer): void {
    for (const line of this.err.push(chunk)) this.stderrLine(line);
  }

  /** Call about once a second: reports a finished second's dropped lines even if the program went quiet. */
  tick(): void {
    this.gate.roll(this.now());
  }

  end(): ProgramOutputEnd {
    for (const line of this.out.end()) this.stdoutLine(line);
    for (const line of this.err.end()) this.stderrLine(line);
    this.gate.finish();
    return this.result ? { result: this.result, errorTail: [...this.errorTail] } : { errorTail: [...this.errorTail] };
  }

  private stdoutLine(line: SplitLine): void {
    if (line.cut) {
      if (line.text.startsWith(RESULT)) {
        this.sink.onLog('WARNING', `ignored a RESULT line longer than ${this.limits.maxResultBytes} bytes`);
        return;
      }
      this.reportCut();
    }
    const parsed = parseStdoutLine(line.text);
    switch (parsed.type) {
      case 'blank':
        return;
      case 'progress':
        if (parsed.percent !== this.lastPercent) {
          this.lastPercent = parsed.percent;
          this.sink.onProgress(parsed.percent);
        }
        return;
      case 'result':
        this.result = { value: parsed.value };
        return;
      case 'log':
        if (parsed.level === 'ERROR') this.keepForTail(parsed.message);
        this.gate.log(parsed.level, parsed.message, this.now());
        return;
      default: {
        const never: never = parsed;
        throw new Error(`unhandled line ${JSON.stringify(never)}`);
      }
    }
  }

  private stderrLine(line: SplitLine): void {
    if (line.cut) this.reportCut();
    if (line.text.trim() === '') return;
    this.keepForTail(line.text);
    this.gate.log('WARNING', line.text, this.now());
  }

  private keepForTail(text: string): void {
    this.errorTail.push(text);
    if (this.errorTail.length > ERROR_TAIL_LINES) this.errorTail.shift();
  }

  private reportCut(): void {
    if (this.cutReported) return;
    this.cutReported = true;
    this.sink.onLog(
      'WARNING',
      `a line longer than ${this.limits.maxLineBytes} bytes was cut (later long lines are cut without notice)`,
    );
  }
}
