import fc from 'fast-check';
import { solveStorage, type AssetInput, type EnergyResult, type IntegerMode } from './index';

// Random small instances, solved for real. A fixed seed keeps CI reproducible; a failure prints
// the counterexample and the seed to replay it.
const RUNS = { numRuns: 40, seed: 20260101 };
const EPS = 1e-6;

interface Instance {
  prices: number[];
  intervalHours: number;
  asset: AssetInput;
  integer: IntegerMode;
}

const assetArb: fc.Arbitrary<AssetInput> = fc
  .record({
    capacityMWh: fc.integer({ min: 1, max: 20 }),
    powerMW: fc.integer({ min: 1, max: 10 }),
    chargeEfficiency: fc.constantFrom(0.8, 0.9, 0.95, 1),
    dischargeEfficiency: fc.constantFrom(0.8, 0.9, 0.95, 1),
    // Fractions of the capacity, ordered below: min ≤ initial ≤ max ≤ capacity.
    socFractions: fc.tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
    finalFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    degradationCostPerMWh: fc.constantFrom(0, 0, 2, 10),
    maxCyclesPerDay: fc.option(fc.constantFrom(0.5, 1, 2), { nil: undefined }),
    gridLimitMW: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  })
  .map(({ socFractions, finalFraction, capacityMWh, ...rest }) => {
    const [low, mid, high] = [...socFractions].sort((a, b) => a - b) as [number, number, number];
    const round = (f: number): number => Math.round(f * capacityMWh * 100) / 100;
    return {
      ...rest,
      capacityMWh,
      socMinMWh: round(low),
      initialSocMWh: round(mid),
      socMaxMWh: round(high),
      // Within reach of the initial SoC, so instances stay feasible: final ≤ initial.
      ...(finalFraction === undefined
        ? {}
        : { finalSocMinMWh: Math.round(round(low) + finalFraction * (round(mid) - round(low)) * 100) / 100 }),
    };
  });

const instanceArb: fc.Arbitrary<Instance> = fc.record({
  prices: fc.array(fc.integer({ min: -50, max: 150 }), { minLength: 1, maxLength: 12 }),
  intervalHours: fc.constantFrom(0.25, 0.5, 1),
  asset: assetArb,
  integer: fc.constantFrom<IntegerMode>('auto', 'never', 'always'),
});

// The MIP stops within mip_gap of its bound: 0 makes "never lower" comparable.
const solve = (i: Instance): Promise<EnergyResult> =>
  solveStorage({
    prices: i.prices,
    intervalHours: i.intervalHours,
    asset: i.asset,
    config: { integer: i.integer, mip_gap: 0 },
  });

const tolerance = (x: number): number => EPS * Math.max(1, Math.abs(x));

describe('solveStorage: properties over random small instances', () => {
  it('keeps the SoC within bounds, powers within limits, and the energy balance in every interval', async () => {
    await fc.assert(
      fc.asyncProperty(instanceArb, async (i) => {
        const r = await solve(i);
        expect(r.status).toBe('optimal');
        const a = i.asset;
        const power = Math.min(a.powerMW, a.gridLimitMW ?? Infinity);
        let previous = a.initialSocMWh;
        for (const row of r.schedule) {
          expect(row.socMWh).toBeGreaterThanOrEqual(a.socMinMWh - EPS);
          expect(row.socMWh).toBeLessThanOrEqual(a.socMaxMWh + EPS);
          expect(row.chargeMW).toBeGreaterThanOrEqual(0);
          expect(row.dischargeMW).toBeGreaterThanOrEqual(0);
          expect(row.chargeMW).toBeLessThanOrEqual(power + EPS);
          expect(row.dischargeMW).toBeLessThanOrEqual(power + EPS);
          const change =
            a.chargeEfficiency * row.chargeMW * i.intervalHours -
            (row.dischargeMW * i.intervalHours) / a.dischargeEfficiency;
          expect(Math.abs(row.socMWh - previous - change)).toBeLessThanOrEqual(EPS);
          if (r.integer) expect(Math.min(row.chargeMW, row.dischargeMW)).toBe(0);
          previous = row.socMWh;
        }
        expect(previous).toBeGreaterThanOrEqual((a.finalSocMinMWh ?? 0) - EPS);
        const s = r.summary;
        expect(r.objectiveValue).toBeCloseTo(s.revenue - s.degradationCost - s.tradingFees, 9);
      }),
      RUNS,
    );
  });

  it('does not trade without a price spread', async () => {
    // A constant price ≥ 0 and nothing stored above the floor to sell: every round trip loses.
    await fc.assert(
      fc.asyncProperty(instanceArb, fc.integer({ min: 0, max: 150 }), async (i, price) => {
        const asset = { ...i.asset, initialSocMWh: i.asset.socMinMWh, finalSocMinMWh: undefined };
        const r = await solve({ ...i, asset, prices: i.prices.map(() => price) });
        expect(Math.abs(r.objectiveValue ?? NaN)).toBeLessThanOrEqual(EPS);
      }),
      RUNS,
    );
  });

  it('never earns less with more power or more capacity', async () => {
    await fc.assert(
      fc.asyncProperty(instanceArb, fc.integer({ min: 1, max: 5 }), async (i, more) => {
        const base = await solve(i);
        const stronger = await solve({ ...i, asset: { ...i.asset, powerMW: i.asset.powerMW + more } });
        const bigger = await solve({
          ...i,
          asset: { ...i.asset, capacityMWh: i.asset.capacityMWh + more, socMaxMWh: i.asset.socMaxMWh + more },
        });
        const objective = base.objectiveValue ?? NaN;
        expect(stronger.objectiveValue).toBeGreaterThanOrEqual(objective - tolerance(objective));
        expect(bigger.objectiveValue).toBeGreaterThanOrEqual(objective - tolerance(objective));
      }),
      RUNS,
    );
  });

  it('earns at least as much in the LP relaxation as in the MIP', async () => {
    await fc.assert(
      fc.asyncProperty(instanceArb, async (i) => {
        const lp = await solve({ ...i, integer: 'never' });
        const mip = await solve({ ...i, integer: 'always' });
        const objective = lp.objectiveValue ?? NaN;
        expect(mip.objectiveValue).toBeLessThanOrEqual(objective + tolerance(objective));
      }),
      RUNS,
    );
  });
});
