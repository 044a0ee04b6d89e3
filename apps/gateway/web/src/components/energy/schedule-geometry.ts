import type { ScheduleRow } from '../../energy';

/** One band of the chart: its place and the values it spans. */
export interface Band {
  top: number;
  height: number;
  lo: number;
  hi: number;
}

export interface ScheduleGeometry {
  width: number;
  height: number;
  left: number;
  right: number;
  price: Band;
  power: Band;
  soc: Band;
  /** x of the start of interval `i` (`i = rows.length`: the end of the last one). */
  x: (i: number) => number;
  y: (band: Band, v: number) => number;
  /** The price as a step per interval: one `H` per interval. */
  pricePath: string;
  /** Discharge above the zero line, charge below it: one closed bar per interval that moves energy. */
  dischargePath: string;
  chargePath: string;
  /** The state of charge at each interval's end, and the area under it. */
  socPath: string;
  socArea: string;
}

const WIDTH = 720;
const LEFT = 52;
const RIGHT = 12;
/** Room above each band for its title. */
const TITLE = 20;
const HEIGHTS = { price: 100, power: 100, soc: 80 };
const BOTTOM = 22;
/** Below this a power is noise from the solver, not a bar. */
const EPS_MW = 1e-6;

function span(values: readonly number[], withZero: boolean): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (withZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

const f = (n: number): string => n.toFixed(1);

/**
 * Where a plan's three series go in one SVG of three stacked bands sharing the time axis: price
 * (€/MWh), charge/discharge (MW) and state of charge (MWh). Paths rather than one element per
 * interval: a 15-minute day is 96 intervals, a week 672.
 */
export function scheduleGeometry(rows: readonly ScheduleRow[]): ScheduleGeometry {
  const n = rows.length;
  let top = TITLE;
  const band = (height: number, [lo, hi]: [number, number]): Band => {
    const b = { top, height, lo, hi };
    top += height + TITLE;
    return b;
  };
  const price = band(
    HEIGHTS.price,
    span(
      rows.map((r) => r.price),
      false,
    ),
  );
  const power = band(HEIGHTS.power, span([...rows.map((r) => r.dischargeMW), ...rows.map((r) => -r.chargeMW)], true));
  const socMax = Math.max(0, ...rows.map((r) => r.socMWh));
  const soc = band(HEIGHTS.soc, [0, socMax > 0 ? socMax : 1]);
  const height = top - TITLE + BOTTOM;

  const step = (WIDTH - LEFT - RIGHT) / Math.max(1, n);
  const x = (i: number): number => LEFT + i * step;
  const y = (b: Band, v: number): number => b.top + (1 - (v - b.lo) / (b.hi - b.lo)) * b.height;
  const gap = Math.min(0.5, step * 0.15);

  let pricePath = '';
  let dischargePath = '';
  let chargePath = '';
  let socPath = '';
  const zero = f(y(power, 0));
  rows.forEach((r, i) => {
    const py = f(y(price, r.price));
    pricePath += `${i === 0 ? `M${f(x(0))},${py}` : `V${py}`}H${f(x(i + 1))}`;
    const bar = (v: number): string => `M${f(x(i) + gap)},${zero}V${f(y(power, v))}H${f(x(i + 1) - gap)}V${zero}Z`;
    if (r.dischargeMW > EPS_MW) dischargePath += bar(r.dischargeMW);
    if (r.chargeMW > EPS_MW) chargePath += bar(-r.chargeMW);
    socPath += `${i === 0 ? 'M' : 'L'}${f(x(i + 1))},${f(y(soc, r.socMWh))}`;
  });
  const base = f(soc.top + soc.height);
  const socArea = n > 0 ? `${socPath}L${f(x(n))},${base}L${f(x(1))},${base}Z` : '';
  return {
    width: WIDTH,
    height,
    left: LEFT,
    right: WIDTH - RIGHT,
    price,
    power,
    soc,
    x,
    y,
    pricePath,
    dischargePath,
    chargePath,
    socPath,
    socArea,
  };
}
