import { highsSolver } from './index';

const CHAIRS = `Maximize
 obj: 30 chairs + 50 tables
Subject To
 carpentry: chairs + 2 tables <= 40
 finishing: 2 chairs + tables <= 50
Bounds
 0 <= chairs <= 100
 0 <= tables <= 100
Generals
 chairs tables
End
`;

describe('highsSolver', () => {
  it('solves a MIP from LP text and reads values by column name', async () => {
    const r = await highsSolver(CHAIRS, { timeLimitSeconds: 10 });

    expect(r).toMatchObject({ status: 'optimal', objectiveValue: 1100, dualBound: 1100 });
    expect(Object.fromEntries(r.values ?? [])).toEqual({ chairs: 20, tables: 10 });
    expect(r.solverTimeMs).toBeGreaterThanOrEqual(0);
  });

  it('reports an infeasible model as a status, without values', async () => {
    const r = await highsSolver('Maximize\n obj: x\nSubject To\n c: x >= 5\nBounds\n 0 <= x <= 1\nEnd\n', {
      timeLimitSeconds: 10,
    });

    expect(r).toMatchObject({ status: 'infeasible', objectiveValue: null, values: null });
  });

  it('turns a failure inside HiGHS into an error result, and the next solve still works', async () => {
    // HiGHS rejects a NaN option value by throwing from inside the runtime; the instance is then
    // dropped and the next solve loads a fresh one.
    const failed = await highsSolver(CHAIRS, { timeLimitSeconds: NaN });
    const next = await highsSolver(CHAIRS, { timeLimitSeconds: 10 });

    expect(failed).toMatchObject({ status: 'error', values: null, message: expect.stringMatching(/^HiGHS failed: /) });
    expect(next).toMatchObject({ status: 'optimal', objectiveValue: 1100 });
  });

  it('answers text that is not an LP with an error', async () => {
    const r = await highsSolver('this is not an LP', { timeLimitSeconds: 10 });

    expect(r.status).toBe('error');
    expect(r.values).toBeNull();
  });

  it('starts a MIP from a given point', async () => {
    // A time limit of 1 µs stops HiGHS before it searches: the start is what it has.
    const start = new Map([
      ['chairs', 2],
      ['tables', 3],
    ]);
    const r = await highsSolver(CHAIRS, { timeLimitSeconds: 1e-6, start });

    expect(r.status).toBe('time_limit');
    expect(r.objectiveValue).toBe(30 * 2 + 50 * 3);
  });
});
