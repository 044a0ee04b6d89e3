import { StallWatch } from './stall-watch';

describe('StallWatch: is the projection making progress?', () => {
  it('given events waiting and a checkpoint that stands still, reports a stall once the bound has passed', () => {
    const watch = new StallWatch(30_000);
    expect(watch.look(0, 120, 100)).toBeUndefined();
    expect(watch.look(29_999, 130, 100)).toBeUndefined();
    expect(watch.state.stalled).toBe(false);
    expect(watch.look(30_000, 130, 100)).toBe('stalled');
    expect(watch.state).toEqual({ stalled: true, streamSeq: 130, appliedSeq: 100, lag: 30, stillForMs: 30_000 });
  });

  it('given a checkpoint that moves, however slowly, never reports a stall', () => {
    const watch = new StallWatch(1_000);
    for (let t = 0; t <= 10_000; t += 900) expect(watch.look(t, 1_000, t / 900)).toBeUndefined();
    expect(watch.state.stalled).toBe(false);
  });

  it('given no events waiting, never reports a stall however long the checkpoint stands still', () => {
    const watch = new StallWatch(1_000);
    expect(watch.look(0, 50, 50)).toBeUndefined();
    expect(watch.look(60_000, 50, 50)).toBeUndefined();
    expect(watch.state).toMatchObject({ stalled: false, lag: 0, stillForMs: 0 });
    // Work arriving after a long idle time starts the clock then, not at the last move.
    expect(watch.look(60_001, 51, 50)).toBeUndefined();
    expect(watch.state.stalled).toBe(false);
  });

  it('repeats the warning every bound while the stall lasts, and says when it ends', () => {
    const watch = new StallWatch(1_000);
    const notices = [0, 1_000, 1_500, 2_000, 3_100].map((t) => watch.look(t, 10, 5));
    expect(notices).toEqual([undefined, 'stalled', undefined, 'still-stalled', 'still-stalled']);
    expect(watch.look(3_200, 10, 6)).toBe('recovered');
    expect(watch.state.stalled).toBe(false);
  });
});
