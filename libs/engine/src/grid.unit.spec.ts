import { countCombinations, enumerateGrid, forEachCombination, parseConstraint, planGrid } from './grid';

const known = ['fast', 'slow', 'flag'];
const holds = (src: string, params: Record<string, number | boolean>): boolean => parseConstraint(src, known)(params);

describe('constraint grammar', () => {
  it('given comparisons, evaluates them over the parameters', () => {
    expect(holds('fast < slow', { fast: 5, slow: 20 })).toBe(true);
    expect(holds('fast < slow', { fast: 20, slow: 20 })).toBe(false);
    expect(holds('fast <= slow', { fast: 20, slow: 20 })).toBe(true);
    expect(holds('slow >= 2 * fast', { fast: 10, slow: 20 })).toBe(true);
    expect(holds('fast != 7', { fast: 7 })).toBe(false);
    expect(holds('fast == 7', { fast: 7 })).toBe(true);
  });

  it('given mixed operators, applies the usual precedence: * / % before + -, comparisons, then not, and, or', () => {
    expect(holds('fast + slow * 2 == 25', { fast: 5, slow: 10 })).toBe(true); // 5 + 20
    expect(holds('(fast + slow) * 2 == 30', { fast: 5, slow: 10 })).toBe(true);
    expect(holds('slow % fast == 0', { fast: 5, slow: 20 })).toBe(true);
    expect(holds('-fast + slow > 0', { fast: 5, slow: 10 })).toBe(true);
    // && binds tighter than ||: true || (false && false)
    expect(holds('fast < 10 || fast > 100 && slow > 100', { fast: 5, slow: 1 })).toBe(true);
    expect(holds('(fast < 10 || fast > 100) && slow > 100', { fast: 5, slow: 1 })).toBe(false);
    expect(holds('!(fast < slow)', { fast: 5, slow: 10 })).toBe(false);
    expect(holds('not fast > slow and flag', { fast: 5, slow: 10, flag: true })).toBe(true);
    expect(holds('flag == false', { flag: false })).toBe(true);
  });

  it('given a value that is not a number (0 / 0) where a truth value is wanted, takes it as false (as JavaScript does)', () => {
    expect(holds('fast / 0 * 0 || false', { fast: 0 })).toBe(false);
    expect(holds('fast / 0 * 0 && true', { fast: 0 })).toBe(false);
    expect(holds('!(fast / 0 * 0)', { fast: 0 })).toBe(true);
    expect(holds('fast / 0 * 0 == fast / 0 * 0', { fast: 0 })).toBe(false); // NaN == NaN
  });

  it.each([
    ['fast', /a constraint must compare, e\.g\. "fast < slow"; this one is only a value/],
    ['1', /a constraint must compare/],
    ['fast + slow', /a constraint must compare/],
    ['fast <', /unexpected end of expression at position 7/],
    ['fast < slowest', /unknown parameter "slowest" \(known: fast, slow, flag\)/],
    ['process.exit()', /unknown parameter "process"|unexpected character "\."/],
    ['constructor.constructor("return 1")()', /unexpected character "\."|unknown parameter/],
    ['fast < slow; fast > 1', /unexpected character ";"/],
    ['fast < "x"', /unexpected character """ at position 8/],
    ['(fast < slow', /expected "\)"/],
  ])('given %s, refuses it with where and why', (src, reason) => {
    expect(() => parseConstraint(src, known)).toThrow(reason);
  });

  it('given a parameter that is not a number or boolean, refuses it by name', () => {
    expect(() => parseConstraint('mode == 1', ['mode'], ['mode'])).toThrow(
      /parameter "mode" is not a number or boolean/,
    );
  });
});

describe('grids', () => {
  it('given axes and a constraint, enumerates the accepted combinations in order, first axis slowest', () => {
    const planned = planGrid('sma-crossover', { fast: { min: 10, max: 30, step: 10 }, slow: [20, 40] }, {}, [
      'fast < slow',
    ]);
    if (!planned.ok) throw new Error(JSON.stringify(planned.issues));
    expect(planned.plan.rawSize).toBe(6);
    expect(enumerateGrid(planned.plan)).toEqual([
      { fast: 10, slow: 20 },
      { fast: 10, slow: 40 },
      { fast: 20, slow: 40 },
      { fast: 30, slow: 40 },
    ]);
    expect(forEachCombination(planned.plan)).toBe(4);
  });

  it("given no constraints, counts by the axes' product, the same number the walk gives", () => {
    const planned = planGrid(
      'sma-crossover',
      { fast: { min: 1, max: 1000, step: 1 }, slow: { min: 2, max: 4000, step: 1 } },
      {},
      [],
    );
    if (!planned.ok) throw new Error(JSON.stringify(planned.issues));
    expect(forEachCombination(planned.plan)).toBe(3_999_000);
    let walked = 0;
    forEachCombination(planned.plan, () => walked++);
    expect(walked).toBe(3_999_000);
  });

  it('given constraints, countCombinations agrees with the walk and lets the event loop run meanwhile', async () => {
    const planned = planGrid(
      'sma-crossover',
      { fast: { min: 1, max: 1000, step: 1 }, slow: { min: 2, max: 1001, step: 1 } },
      {},
      ['fast < slow'],
    );
    if (!planned.ok) throw new Error(JSON.stringify(planned.issues));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    try {
      const counted = await countCombinations(planned.plan, 10_000);
      expect(counted).toBe(forEachCombination(planned.plan));
      expect(counted).toBe(500_500); // fast < slow over 1..1000 × 2..1001
    } finally {
      clearInterval(ticker);
    }
    expect(ticks).toBeGreaterThan(0); // 1M combinations, 100 returns to the event loop
  });

  it('given decimal steps, lands on the exact values (no accumulated drift)', () => {
    const planned = planGrid('rsi-reversion', { oversold: { min: 10, max: 10.3, step: 0.1 } }, {}, []);
    if (!planned.ok) throw new Error(JSON.stringify(planned.issues));
    expect(enumerateGrid(planned.plan).map((p) => p.oversold)).toEqual([10, 10.1, 10.2, 10.3]);
  });

  it('given bad axes and constraints, answers every issue with its field', () => {
    const planned = planGrid(
      'sma-crossover',
      { fast: { min: 1, max: 5, step: 0.5 }, speed: [1], slow: [3, 3] },
      { fast: 2 },
      ['fast', 'slow < '],
    );
    expect(planned.ok).toBe(false);
    if (planned.ok) return;
    expect(planned.issues.map((i) => i.field)).toEqual([
      'params.fast',
      'axes.fast',
      'axes.speed',
      'axes.slow',
      'constraints.0',
      'constraints.1',
    ]);
  });

  it('given a raw grid over the ceiling, says how large it is and what the limit is', () => {
    const planned = planGrid(
      'rsi-reversion',
      { oversold: { min: 1, max: 49, step: 0.0001 }, overbought: { min: 51, max: 99, step: 0.1 } },
      {},
      [],
    );
    expect(planned).toEqual({
      ok: false,
      issues: [
        { field: 'axes', reason: 'the grid has 230880481 combinations before constraints; the limit is 5000000' },
      ],
    });
  });
});
