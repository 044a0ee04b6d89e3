import {
  EnergyInputError,
  coverage,
  describeMissing,
  solveDmo,
  solveRmo,
  solveSo,
  syntheticPrices,
  type AssetInput,
  type PriceSeries,
} from './index';

const BATTERY: AssetInput = {
  capacityMWh: 1,
  powerMW: 1,
  chargeEfficiency: 1,
  dischargeEfficiency: 1,
  socMinMWh: 0,
  socMaxMWh: 1,
  initialSocMWh: 0,
};

/** Two hourly days: 12 h at 10 then 12 h at 50, each day; intraday 20 / 80. */
const HOURLY: PriceSeries = {
  start: '2026-01-01T00:00:00Z',
  intervalMinutes: 60,
  dayAhead: Array.from({ length: 48 }, (_, t) => (t % 24 < 12 ? 10 : 50)),
  intraday: Array.from({ length: 48 }, (_, t) => (t % 24 < 12 ? 20 : 80)),
};

async function inputError(promise: Promise<unknown>): Promise<EnergyInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EnergyInputError)) throw new Error(`expected an EnergyInputError, got ${String(error)}`);
  return error;
}

describe('solveDmo', () => {
  it('plans the delivery day from day-ahead prices', async () => {
    // One cycle of 1 MWh bought at 10 and sold at 50: 40.
    const r = await solveDmo({ series: HOURLY, deliveryStart: '2026-01-02T00:00:00Z', asset: BATTERY });

    expect(r.status).toBe('optimal');
    expect(r.objectiveValue).toBeCloseTo(40, 6);
    expect(r.schedule).toHaveLength(24);
    expect(r.schedule[0]).toMatchObject({ t: 0, start: '2026-01-02T00:00:00.000Z', price: 10 });
    expect(r.schedule[23]?.start).toBe('2026-01-02T23:00:00.000Z');
  });

  it('plans 96 quarter-hours of a synthetic day, with the MIP when prices go negative', async () => {
    const series = syntheticPrices({
      seed: 5,
      start: '2026-03-01T00:00:00Z',
      intervalMinutes: 15,
      intervals: 192,
      negativeHours: 2,
    });
    const asset = {
      ...BATTERY,
      capacityMWh: 10,
      socMaxMWh: 9,
      socMinMWh: 1,
      initialSocMWh: 5,
      powerMW: 5,
      chargeEfficiency: 0.95,
      dischargeEfficiency: 0.95,
    };
    const r = await solveDmo({ series, deliveryStart: '2026-03-02T00:00:00+00:00', asset });

    expect(r.status).toBe('optimal');
    expect(r.integer).toBe(true);
    expect(r.schedule.map((row) => row.price)).toEqual(series.dayAhead.slice(96));
    expect(r.objectiveValue).toBeGreaterThan(0);
  });

  it('says which intervals the series is missing', async () => {
    const error = await inputError(solveDmo({ series: HOURLY, deliveryStart: '2026-01-02T12:00:00Z', asset: BATTERY }));

    expect(error.issues).toEqual([
      {
        field: 'series',
        reason:
          'does not cover the horizon: 12 intervals missing: 2026-01-03T00:00:00.000Z to 2026-01-03T11:00:00.000Z',
      },
    ]);
  });
});

describe('solveRmo', () => {
  it('treats a missing committed position as zero, and says so', async () => {
    // Intraday 20 / 80, no fee: buy 1 MWh at 20, sell it at 80 → 60.
    const r = await solveRmo({ series: HOURLY, intervals: 24, asset: BATTERY });

    expect(r.objectiveValue).toBeCloseTo(60, 6);
    expect(r.notes[0]).toBe('no committed position given: optimized against a committed position of zero');
    expect(r.schedule.every((row) => row.committedMW === 0)).toBe(true);
  });

  it('re-plans the rest of the series from a committed position', async () => {
    // From 11:00 on day 2 (13 intervals): already committed to deliver 1 MW at 12:00. The empty
    // battery buys that MWh at 11:00 (20 + 0.5 fee) rather than buying the delivery back at
    // 12:00 (80.5): −20.5.
    const committed = [0, 1, ...new Array<number>(11).fill(0)];
    const r = await solveRmo({
      series: HOURLY,
      from: '2026-01-02T11:00:00Z',
      committed,
      tradingFeePerMWh: 0.5,
      asset: BATTERY,
    });

    expect(r.schedule).toHaveLength(13);
    expect(r.objectiveValue).toBeCloseTo(-20.5, 6);
    expect(r.schedule[0]).toMatchObject({ start: '2026-01-02T11:00:00.000Z', tradeMW: expect.closeTo(-1, 6) });
    expect(r.notes).toEqual([]);
  });

  it('needs intraday prices', async () => {
    const { intraday: _, ...dayAheadOnly } = HOURLY;
    const error = await inputError(solveRmo({ series: dayAheadOnly, asset: BATTERY }));

    expect(error.issues).toEqual([
      { field: 'series.intraday', reason: 'is required: RMO re-plans at intraday prices' },
    ]);
  });
});

describe('solveSo', () => {
  it('plans a few hours from the measured SoC and returns the first set-points', async () => {
    // From 10:00 on day 1, four hours at intraday prices 20, 20, 80, 80 with the battery full
    // (1 MWh measured): it cannot charge, and sells its 1 MWh at 80 later → 80. Now: idle.
    const r = await solveSo({
      series: HOURLY,
      from: '2026-01-01T10:00:00Z',
      intervals: 4,
      initialSocMWh: 1,
      setpointIntervals: 2,
      asset: BATTERY,
    });

    expect(r.objectiveValue).toBeCloseTo(80, 6);
    expect(r.schedule).toHaveLength(4);
    expect(r.setpoints).toEqual(r.schedule.slice(0, 2));
    expect(r.setpoints[0]).toMatchObject({ start: '2026-01-01T10:00:00.000Z', price: 20, chargeMW: 0, dischargeMW: 0 });
  });

  it('defaults to four hours and plans with day-ahead prices when there are no intraday ones', async () => {
    const { intraday: _, ...dayAheadOnly } = HOURLY;
    const r = await solveSo({ series: dayAheadOnly, initialSocMWh: 0, asset: BATTERY });

    expect(r.schedule).toHaveLength(4);
    expect(r.notes).toContain('no intraday prices: planned with day-ahead prices');
  });

  it('names the measured SoC when it is out of bounds', async () => {
    const error = await inputError(solveSo({ series: HOURLY, initialSocMWh: 2, asset: BATTERY }));

    expect(error.issues).toEqual([
      { field: 'initialSocMWh', reason: 'must be between socMinMWh (0) and socMaxMWh (1)' },
    ]);
  });
});

describe('coverage', () => {
  const series: PriceSeries = { start: '2026-01-01T00:00:00Z', intervalMinutes: 15, dayAhead: [1, 2, 3, 4] };

  it('is empty when the series covers the horizon', () => {
    expect(coverage(series, '2026-01-01T00:15:00Z', 3)).toEqual([]);
    expect(coverage(series, '2026-01-01T01:15:00+01:00', 3)).toEqual([]);
  });

  it('lists the interval starts outside the series', () => {
    expect(coverage(series, '2025-12-31T23:45:00Z', 6)).toEqual([
      '2025-12-31T23:45:00.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
  });

  it('misses every interval of a horizon off the series grid', () => {
    expect(coverage(series, '2026-01-01T00:05:00Z', 2)).toEqual([
      '2026-01-01T00:05:00.000Z',
      '2026-01-01T00:20:00.000Z',
    ]);
  });

  it('describes runs of missing intervals', () => {
    const missing = coverage(series, '2025-12-31T23:30:00Z', 8);

    expect(describeMissing(missing, 15)).toBe(
      '4 intervals missing: 2025-12-31T23:30:00.000Z to 2025-12-31T23:45:00.000Z, 2026-01-01T01:00:00.000Z to 2026-01-01T01:15:00.000Z',
    );
  });
});
