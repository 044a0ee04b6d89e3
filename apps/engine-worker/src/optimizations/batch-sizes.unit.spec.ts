import { planBatchSizes } from './optimization.coordinator';

describe('planBatchSizes (guided self-scheduling of trial batches)', () => {
  const cases: [bars: number, trials: number][] = [
    [1_000_000, 2_000],
    [100_000, 2_000],
    [5_000_000, 10_000],
    [1_000, 100],
    [100, 100_000],
    [200_000, 9],
    [100_000_000, 5],
    [1, 1],
  ];

  it.each(cases)(
    'over %i bars, %i trials: every trial once, no batch above an eighth of the grid, never growing',
    (bars, trials) => {
      const sizes = planBatchSizes(bars, trials);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(trials);
      for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1] as number);
      for (const size of sizes) {
        expect(size).toBeGreaterThanOrEqual(1);
        expect(size).toBeLessThanOrEqual(Math.min(1_000, Math.ceil(trials / 8)));
        // At most ~0.4 s of engine work per batch, unless one trial alone is more.
        expect(size === 1 || size * bars <= 100_000_000).toBe(true);
      }
    },
  );

  it('starts large and ends small, so the workers finish together', () => {
    const sizes = planBatchSizes(1_000_000, 2_000);
    expect(sizes[0]).toBe(100); // 100M bar-steps
    expect(sizes.length).toBe(30);
    expect(sizes.slice(-3)).toEqual([5, 5, 5]); // 5M bar-steps, ~20 ms each
  });
});
