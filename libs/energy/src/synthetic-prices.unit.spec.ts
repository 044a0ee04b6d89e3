import { EnergyInputError, PriceSeriesSchema, syntheticPrices } from './index';

const SPEC = { seed: 42, start: '2026-01-01T00:00:00Z', intervalMinutes: 60, intervals: 48 } as const;

describe('syntheticPrices', () => {
  it('is fixed for a seed (golden values)', () => {
    // Regenerating these means every stored synthetic data source changes: do it on purpose only.
    const s = syntheticPrices(SPEC);

    expect(s.dayAhead.slice(0, 8)).toEqual([58.35, 60.73, 62.75, 63.97, 56.99, 66.57, 75.41, 104.16]);
    expect(s.intraday?.slice(0, 4)).toEqual([55.05, 55.25, 61.52, 65.96]);
    expect(s.start).toBe('2026-01-01T00:00:00.000Z');
    expect(PriceSeriesSchema.safeParse(s).success).toBe(true);
  });

  it('gives the same series for the same spec and another for another seed', () => {
    expect(syntheticPrices(SPEC)).toEqual(syntheticPrices({ ...SPEC }));
    expect(syntheticPrices({ ...SPEC, seed: 43 }).dayAhead).not.toEqual(syntheticPrices(SPEC).dayAhead);
  });

  it('has night lows, evening peaks and the asked-for negative hours', () => {
    const s = syntheticPrices({ ...SPEC, intervalMinutes: 15, intervals: 96 * 20, negativeHours: 3 });
    const byHour = Array.from({ length: 24 }, () => [] as number[]);
    s.dayAhead.forEach((p, i) => byHour[Math.floor((i % 96) / 4)]?.push(p));
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

    expect(s.dayAhead.filter((p) => p < 0)).toHaveLength(20 * 3 * 4);
    expect(mean(byHour[18] ?? [])).toBeGreaterThan(mean(byHour[3] ?? []) + 40);
    expect(mean(byHour[8] ?? [])).toBeGreaterThan(mean(byHour[3] ?? []) + 20);
  });

  it('changes no positive interval when only negativeHours changes', () => {
    const none = syntheticPrices({ ...SPEC, negativeHours: 0 });
    const some = syntheticPrices({ ...SPEC, negativeHours: 4 });

    some.dayAhead.forEach((p, i) => {
      if (p >= 0) expect(p).toBe(none.dayAhead[i]);
    });
    expect(none.dayAhead.every((p) => p > 0)).toBe(true);
  });

  it('rejects a bad spec with its fields', () => {
    expect(() => syntheticPrices({ ...SPEC, intervalMinutes: 20 as 15, seed: -1 })).toThrow(EnergyInputError);
    expect(() => syntheticPrices({ ...SPEC, intervals: 0 })).toThrow(/synthetic\.intervals/);
  });
});
