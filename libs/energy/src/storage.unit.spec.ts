import { EnergyInputError, solveStorage, syntheticPrices, type AssetInput, type EnergyResult } from './index';

/** 1 MWh / 1 MW, lossless, empty, SoC free in [0, 1]. */
const BATTERY: AssetInput = {
  capacityMWh: 1,
  powerMW: 1,
  chargeEfficiency: 1,
  dischargeEfficiency: 1,
  socMinMWh: 0,
  socMaxMWh: 1,
  initialSocMWh: 0,
};

// toBeCloseTo digits: |Δ| < 5e-6. HiGHS's feasibility tolerances (1e-7 primal, 1e-6 integrality) show at 1e-6.
const TOLERANCE = 5;

function column(result: EnergyResult, key: 'chargeMW' | 'dischargeMW' | 'socMWh' | 'tradeMW'): number[] {
  return result.schedule.map((row) => row[key] ?? NaN);
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('solveStorage: golden instances (derived on paper)', () => {
  it('buys low and sells high: prices [10, 10, 50, 50], 1 MWh lossless → 40', async () => {
    // Only 1 MWh fits: charge it in hours 0–1 at 10 (cost 10), discharge it in hours 2–3 at 50
    // (revenue 50). Objective 50 − 10 = 40. The LP may split either MWh across its two hours.
    const r = await solveStorage({
      prices: [10, 10, 50, 50],
      intervalHours: 1,
      asset: BATTERY,
      start: '2026-01-01T00:00:00Z',
    });

    expect(r.status).toBe('optimal');
    expect(r.integer).toBe(false);
    expect(r.objectiveValue).toBeCloseTo(40, TOLERANCE);
    const charge = column(r, 'chargeMW');
    const discharge = column(r, 'dischargeMW');
    expect(sum(charge.slice(0, 2))).toBeCloseTo(1, TOLERANCE);
    expect(sum(discharge.slice(2))).toBeCloseTo(1, TOLERANCE);
    expect(charge.slice(2)).toEqual([0, 0]);
    expect(discharge.slice(0, 2)).toEqual([0, 0]);
    expect(r.schedule.map((row) => row.start)).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T01:00:00.000Z',
      '2026-01-01T02:00:00.000Z',
      '2026-01-01T03:00:00.000Z',
    ]);
    expect(r.summary).toEqual({
      energyInMWh: expect.closeTo(1, TOLERANCE),
      energyOutMWh: expect.closeTo(1, TOLERANCE),
      cycles: expect.closeTo(1, TOLERANCE),
      revenue: expect.closeTo(40, TOLERANCE),
      degradationCost: 0,
      tradingFees: 0,
    });
  });

  it('pays for losses: ηc 0.9, ηd 0.8 → 40 − 100/9', async () => {
    // Storing 1 MWh takes 1/0.9 MWh from the grid (cost 10/0.9 = 11.11, fits in hours 0–1 at
    // 1 MW); it delivers 0.8 MWh (revenue 50·0.8 = 40). Each MWh bought at 10 sells 0.72 MWh
    // at 50 = 36, so filling up pays. Objective 40 − 11.11 = 28.89.
    const r = await solveStorage({
      prices: [10, 10, 50, 50],
      intervalHours: 1,
      asset: { ...BATTERY, chargeEfficiency: 0.9, dischargeEfficiency: 0.8 },
    });

    expect(r.objectiveValue).toBeCloseTo(40 - 100 / 9, TOLERANCE);
    expect(sum(column(r, 'chargeMW'))).toBeCloseTo(1 / 0.9, TOLERANCE);
    expect(sum(column(r, 'dischargeMW'))).toBeCloseTo(0.8, TOLERANCE);
    expect(column(r, 'socMWh')[1]).toBeCloseTo(1, TOLERANCE);
  });

  it('needs the MIP at a negative price: LP 76, MIP 40', async () => {
    // Full 1 MWh battery, ηc = ηd = 0.8, prices [−100, 50].
    // LP: in hour 0 it is paid to charge 1 MW while discharging 0.64 MW to stay full
    // (0.8·1 − 0.64/0.8 = 0): net 0.36 MWh consumed at −100 → +36. In hour 1 it sells the full
    // 1 MWh as 0.8 MWh at 50 → +40. Total 76.
    // MIP: charging excludes discharging, and a full battery cannot charge alone, so hour 0 idles;
    // hour 1 sells 0.8 MWh → 40.
    const asset = { ...BATTERY, initialSocMWh: 1, chargeEfficiency: 0.8, dischargeEfficiency: 0.8 };
    const lp = await solveStorage({ prices: [-100, 50], intervalHours: 1, asset, config: { integer: 'never' } });
    const mip = await solveStorage({ prices: [-100, 50], intervalHours: 1, asset });

    expect(lp.integer).toBe(false);
    expect(lp.objectiveValue).toBeCloseTo(76, TOLERANCE);
    expect(lp.schedule[0]).toMatchObject({
      chargeMW: expect.closeTo(1, TOLERANCE),
      dischargeMW: expect.closeTo(0.64, TOLERANCE),
    });

    expect(mip.integer).toBe(true);
    expect(mip.status).toBe('optimal');
    expect(mip.objectiveValue).toBeCloseTo(40, TOLERANCE);
    expect(mip.mipGap).toBe(0);
    expect(column(mip, 'chargeMW')).toEqual([0, 0]);
    expect(column(mip, 'dischargeMW')[1]).toBeCloseTo(0.8, TOLERANCE);
    expect(mip.notes).toContain(
      'MIP: 1 interval(s) with a negative price, where charging and discharging at once could pay',
    );
  });

  it('skips the MIP when the LP optimum already separates charging and discharging', async () => {
    // Empty battery, prices [−10, 50]: the LP charges 1 MWh in hour 0 (+10) and sells it in
    // hour 1 (+50); it never discharges while charging, so that is the MIP optimum: 60.
    const r = await solveStorage({ prices: [-10, 50], intervalHours: 1, asset: BATTERY });

    expect(r.integer).toBe(true);
    expect(r.objectiveValue).toBeCloseTo(60, TOLERANCE);
    expect(r.mipGap).toBe(0);
    expect(r.notes).toContain(
      'the LP optimum never charges and discharges at once, so it is the MIP optimum: MIP skipped',
    );
  });

  it('charges degradation per MWh discharged', async () => {
    // Prices [10, 50]: one cycle earns 40 − degradation. At 30 €/MWh it still pays (10); at 45 it
    // does not, and the battery idles (0).
    const worth = await solveStorage({
      prices: [10, 50],
      intervalHours: 1,
      asset: { ...BATTERY, degradationCostPerMWh: 30 },
    });
    const idle = await solveStorage({
      prices: [10, 50],
      intervalHours: 1,
      asset: { ...BATTERY, degradationCostPerMWh: 45 },
    });

    expect(worth.objectiveValue).toBeCloseTo(10, TOLERANCE);
    expect(worth.summary.degradationCost).toBeCloseTo(30, TOLERANCE);
    expect(worth.summary.revenue).toBeCloseTo(40, TOLERANCE);
    expect(idle.objectiveValue).toBeCloseTo(0, TOLERANCE);
    expect(idle.summary.energyOutMWh).toBeCloseTo(0, TOLERANCE);
  });

  it('limits cycles per day', async () => {
    // 24 hourly prices alternating 10, 50: unlimited, the battery cycles 12 times (12·40 = 480);
    // at 2 cycles a day it discharges at most 2·1 MWh (2·40 = 80).
    const prices = Array.from({ length: 24 }, (_, t) => (t % 2 === 0 ? 10 : 50));
    const free = await solveStorage({ prices, intervalHours: 1, asset: BATTERY });
    const limited = await solveStorage({ prices, intervalHours: 1, asset: { ...BATTERY, maxCyclesPerDay: 2 } });

    expect(free.objectiveValue).toBeCloseTo(480, TOLERANCE);
    expect(free.summary.cycles).toBeCloseTo(12, TOLERANCE);
    expect(limited.objectiveValue).toBeCloseTo(80, TOLERANCE);
    expect(limited.summary.cycles).toBeCloseTo(2, TOLERANCE);
  });

  it('respects a grid limit tighter than the converter', async () => {
    // 2 MW converter behind a 1 MW connection, 2 MWh, prices [10, 50] → 1 MWh in, 1 MWh out: 40.
    const asset = { ...BATTERY, capacityMWh: 2, socMaxMWh: 2, powerMW: 2, gridLimitMW: 1 };
    const r = await solveStorage({ prices: [10, 50], intervalHours: 1, asset });

    expect(r.objectiveValue).toBeCloseTo(40, TOLERANCE);
    expect(Math.max(...column(r, 'chargeMW'), ...column(r, 'dischargeMW'))).toBeCloseTo(1, TOLERANCE);
  });

  it('keeps the final state of charge', async () => {
    // Full battery, prices [50, 50], at least 0.5 MWh left at the end: it sells 0.5 MWh → 25.
    const r = await solveStorage({
      prices: [50, 50],
      intervalHours: 1,
      asset: { ...BATTERY, initialSocMWh: 1, finalSocMinMWh: 0.5 },
    });

    expect(r.objectiveValue).toBeCloseTo(25, TOLERANCE);
    expect(column(r, 'socMWh')[1]).toBeCloseTo(0.5, TOLERANCE);
  });

  it('scales by the interval length', async () => {
    // Quarter-hours: 1 MW for 15 min moves 0.25 MWh. Four at 10 fill the battery, four at 50 empty it: 40.
    const r = await solveStorage({ prices: [10, 10, 10, 10, 50, 50, 50, 50], intervalHours: 0.25, asset: BATTERY });

    expect(r.objectiveValue).toBeCloseTo(40, TOLERANCE);
    for (const charge of column(r, 'chargeMW').slice(0, 4)) expect(charge).toBeCloseTo(1, TOLERANCE);
  });

  it('nets out a lossless charge-and-discharge tie', async () => {
    // [10, 10, 50, 50] lossless: in hour 3 charging and discharging 1 MW at once changes nothing,
    // and an LP optimum may do it anyway. The plan shows what the asset would do: not both.
    const r = await solveStorage({ prices: [10, 10, 50, 50], intervalHours: 1, asset: BATTERY });

    for (const row of r.schedule) expect(Math.min(row.chargeMW, row.dischargeMW)).toBe(0);
  });
});

describe('solveStorage: infeasible, time limit, input', () => {
  it('answers infeasible with the reason, not a throw', async () => {
    // From 1 MWh, 4 hours at 1 MW add at most 4 MWh: 5 < 9.
    const asset = { ...BATTERY, capacityMWh: 10, socMinMWh: 1, socMaxMWh: 9, initialSocMWh: 1, finalSocMinMWh: 9 };
    const r = await solveStorage({ prices: [1, 2, 3, 4], intervalHours: 1, asset });

    expect(r).toMatchObject({
      status: 'infeasible',
      reason: 'final state of charge 9 MWh is unreachable from 1 MWh in 4 intervals at 1 MW',
      objectiveValue: null,
      schedule: [],
    });
  });

  it('names the interval length and efficiency in the reason when they matter', async () => {
    const asset = { ...BATTERY, chargeEfficiency: 0.5, finalSocMinMWh: 1 };
    const r = await solveStorage({ prices: [1, 2, 3, 4], intervalHours: 0.25, asset });

    expect(r.reason).toBe(
      'final state of charge 1 MWh is unreachable from 0 MWh in 4 intervals of 15 min at 1 MW and charge efficiency 0.5',
    );
  });

  it('ends a time-limited MIP with a plan and its gap', async () => {
    // 28 days of quarter-hours, eight negative hours a day, a small battery that is full long
    // before they end: the LP burns energy (charges and discharges at once) and the MIP needs
    // seconds to prove its optimum (3.3 s on a 2-core dev box). A second leaves room for the LP
    // (0.04–0.15 s warm, 0.5 s as a process's first solve), whose netted plan starts the MIP,
    // which then stops at the limit with that plan or a better one.
    const { dayAhead } = syntheticPrices({
      seed: 11,
      start: '2026-03-01T00:00:00Z',
      intervalMinutes: 15,
      intervals: 2688,
      negativeHours: 8,
    });
    const asset = {
      capacityMWh: 2,
      powerMW: 5,
      chargeEfficiency: 0.9,
      dischargeEfficiency: 0.9,
      socMinMWh: 0,
      socMaxMWh: 2,
      initialSocMWh: 0,
    };
    const r = await solveStorage({
      prices: dayAhead,
      intervalHours: 0.25,
      asset,
      config: { time_limit: 1, mip_gap: 0 },
    });

    expect(r.status).toBe('time_limit');
    expect(r.integer).toBe(true);
    expect(r.schedule).toHaveLength(2688);
    expect(r.mipGap).toBeGreaterThan(0);
    expect(r.mipGap).toBeLessThan(1);
    expect(r.objectiveValue).toBeGreaterThan(0);
    for (const row of r.schedule) expect(Math.min(row.chargeMW, row.dischargeMW)).toBe(0);
    expect(r.notes.at(-1)).toMatch(
      /^time limit of 1 s reached: the plan is the best found, within [\d.]+% of the bound$/,
    );
  });

  it('says that time ran out before any plan', async () => {
    const { dayAhead } = syntheticPrices({
      seed: 3,
      start: '2026-03-01T00:00:00Z',
      intervalMinutes: 15,
      intervals: 2688,
    });
    const r = await solveStorage({
      prices: dayAhead,
      intervalHours: 0.25,
      asset: BATTERY,
      config: { time_limit: 1e-6 },
    });

    expect(r).toMatchObject({ status: 'time_limit', objectiveValue: null, schedule: [] });
    expect(r.reason).toBe('time limit of 0.000001 s reached before a feasible plan was found');
  });

  it('rejects non-finite prices, naming each index', async () => {
    await expect(
      solveStorage({ prices: [1, NaN, 3, Infinity], intervalHours: 1, asset: BATTERY }),
    ).rejects.toMatchObject({
      code: 'ENERGY_INPUT_INVALID',
      issues: [
        { field: 'prices[1]', reason: 'must be a finite number, got NaN' },
        { field: 'prices[3]', reason: 'must be a finite number, got Infinity' },
      ],
    });
  });

  it('rejects an asset whose bounds cross, with every issue', async () => {
    const asset = {
      ...BATTERY,
      capacityMWh: 10,
      socMinMWh: 1,
      socMaxMWh: 9,
      initialSocMWh: 9.5,
      chargeEfficiency: 1.2,
    };
    const error = await solveStorage({ prices: [1], intervalHours: 1, asset }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EnergyInputError);
    expect((error as EnergyInputError).issues).toEqual([
      { field: 'asset.chargeEfficiency', reason: 'must be in (0, 1]' },
      { field: 'asset.initialSocMWh', reason: 'must be between socMinMWh (1) and socMaxMWh (9)' },
    ]);
    expect((error as EnergyInputError).message).toBe(
      'asset.chargeEfficiency: must be in (0, 1]; asset.initialSocMWh: must be between socMinMWh (1) and socMaxMWh (9)',
    );
  });

  it('rejects unknown config keys and committed positions of the wrong length', async () => {
    const error = await solveStorage({
      prices: [1, 2],
      intervalHours: 1,
      asset: BATTERY,
      committed: [0],
      config: { time_limit: 0, mipgap: 0.1 } as never,
    }).catch((e: unknown) => e);

    expect((error as EnergyInputError).issues).toEqual([
      { field: 'committed', reason: 'must have one value per interval (2), got 1' },
      { field: 'config.time_limit', reason: 'must be > 0 seconds' },
      { field: 'config.mipgap', reason: 'unknown field' },
    ]);
  });

  it("notes the seed's solver and threads rather than failing on them", async () => {
    const r = await solveStorage({
      prices: [1, 2],
      intervalHours: 1,
      asset: BATTERY,
      config: { solver: 'CPLEX', threads: 4, time_limit: 3600, mip_gap: 0.01 },
    });

    expect(r.status).toBe('optimal');
    expect(r.notes).toEqual([
      'threads=4 not applied: the HiGHS WebAssembly build is single-threaded',
      'solver "CPLEX" is not available: solved with HiGHS',
    ]);
  });
});

describe('solveStorage: deviation from a committed position (RMO)', () => {
  const FEE = 1;

  it('trades a free battery around intraday prices, net of the fee', async () => {
    // Nothing committed, prices [20, 80], fee 1: buy 1 MWh at 21, sell it at 79 → 58.
    const r = await solveStorage({
      prices: [20, 80],
      intervalHours: 1,
      asset: BATTERY,
      committed: [0, 0],
      tradingFeePerMWh: FEE,
    });

    expect(r.objectiveValue).toBeCloseTo(58, TOLERANCE);
    expect(column(r, 'tradeMW')).toEqual([expect.closeTo(-1, TOLERANCE), expect.closeTo(1, TOLERANCE)]);
    expect(r.summary).toMatchObject({
      revenue: expect.closeTo(60, TOLERANCE),
      tradingFees: expect.closeTo(2, TOLERANCE),
    });
  });

  it('leaves a committed position that is already best alone', async () => {
    // Committed: charge 1 MW in hour 0, discharge 1 MW in hour 1. Any deviation pays the fee and
    // the battery has no room for more: 0.
    const r = await solveStorage({
      prices: [20, 80],
      intervalHours: 1,
      asset: BATTERY,
      committed: [-1, 1],
      tradingFeePerMWh: FEE,
    });

    expect(r.objectiveValue).toBeCloseTo(0, TOLERANCE);
    expect(column(r, 'tradeMW')).toEqual([0, 0]);
    expect(column(r, 'dischargeMW')).toEqual([0, expect.closeTo(1, TOLERANCE)]);
  });

  it('covers a committed position the battery cannot deliver at the cheapest price', async () => {
    // Empty battery committed to deliver 1 MW in hour 1. Either buy 1 MWh in hour 0 to charge
    // (−20 − 1 = −21) or buy the delivery back in hour 1 (−80 − 1 = −81): −21.
    const r = await solveStorage({
      prices: [20, 80],
      intervalHours: 1,
      asset: BATTERY,
      committed: [0, 1],
      tradingFeePerMWh: FEE,
    });

    expect(r.objectiveValue).toBeCloseTo(-21, TOLERANCE);
    expect(r.schedule.map((row) => [row.committedMW, row.tradeMW, row.chargeMW, row.dischargeMW])).toEqual([
      [0, expect.closeTo(-1, TOLERANCE), expect.closeTo(1, TOLERANCE), 0],
      [1, 0, 0, expect.closeTo(1, TOLERANCE)],
    ]);
  });
});
