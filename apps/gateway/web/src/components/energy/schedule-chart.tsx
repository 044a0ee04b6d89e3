import type { Run } from '../../api';
import { fmtEuro, MARKET_TIME_ZONE, type EnergyResult } from '../../energy';
import { fmtNum, shortId } from '../../format';
import { scheduleGeometry, type Band } from './schedule-geometry';

const timeLabel = new Intl.DateTimeFormat(undefined, {
  timeZone: MARKET_TIME_ZONE,
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

/** Where interval `i` starts (`i = n`: where the last one ends), from the rows' own start times. */
function startOf(result: EnergyResult, i: number): string | undefined {
  const rows = result.schedule;
  const at = (k: number): number | undefined => {
    const s = rows[k]?.start;
    return s === undefined ? undefined : Date.parse(s);
  };
  const first = at(0);
  const second = at(1);
  const ms = at(i) ?? (i > 0 && first !== undefined && second !== undefined ? first + i * (second - first) : undefined);
  return ms === undefined || Number.isNaN(ms) ? undefined : timeLabel.format(ms);
}

/**
 * A completed job's plan per interval as one inline SVG, drawn like the equity curve (no chart
 * library): price, charge (below the line) and discharge (above it), and the state of charge.
 */
export function ScheduleChart({ run, result }: { run: Pick<Run, 'id' | 'kind'>; result: EnergyResult }) {
  const rows = result.schedule;
  if (rows.length === 0) return <p class="state state-empty">This plan has no intervals.</p>;
  const g = scheduleGeometry(rows);
  const axis = (band: Band, title: string) => (
    <g>
      <text x={g.left} y={band.top - 6} class="band-title">
        {title}
      </text>
      {[band.hi, band.lo].map((v) => (
        <g key={v}>
          <line x1={g.left} x2={g.right} y1={g.y(band, v)} y2={g.y(band, v)} class="grid" />
          <text x={g.left - 6} y={g.y(band, v) + 4} text-anchor="end" class="axis">
            {fmtNum(v, 1)}
          </text>
        </g>
      ))}
    </g>
  );
  const ticks = [0, Math.floor(rows.length / 2), rows.length];
  const s = result.summary;
  return (
    <figure class="chart schedule-chart" data-testid="schedule-chart" data-run-id={run.id}>
      <svg
        viewBox={`0 0 ${g.width} ${g.height}`}
        role="img"
        aria-label={`${run.kind.toUpperCase()} plan over ${rows.length} intervals: price, charge and discharge, state of charge`}
      >
        {axis(g.price, 'Price (€/MWh)')}
        <path d={g.pricePath} class="price-line" data-testid="price-line" />
        {axis(g.power, 'Charge ↓ / discharge ↑ (MW)')}
        <line x1={g.left} x2={g.right} y1={g.y(g.power, 0)} y2={g.y(g.power, 0)} class="zero" />
        <path d={g.chargePath} class="charge-bars" data-testid="charge-bars" />
        <path d={g.dischargePath} class="discharge-bars" data-testid="discharge-bars" />
        {axis(g.soc, 'State of charge (MWh)')}
        <path d={g.socArea} class="soc-area" />
        <path d={g.socPath} class="soc-line" data-testid="soc-line" />
        {ticks.map((i) => (
          <text
            key={i}
            x={g.x(i)}
            y={g.height - 6}
            class="axis"
            text-anchor={i === 0 ? 'start' : i === rows.length ? 'end' : 'middle'}
          >
            {startOf(result, i) ?? `interval ${i}`}
          </text>
        ))}
      </svg>
      <figcaption>
        {run.kind.toUpperCase()} <code>{shortId(run.id)}</code>: {rows.length} intervals ({MARKET_TIME_ZONE} time)
        {typeof result.objective_value === 'number' && <> · objective {fmtEuro(result.objective_value)}</>}
        {s && (
          <>
            {' '}
            · charged {fmtNum(s['energyInMWh'], 2)} MWh, discharged {fmtNum(s['energyOutMWh'], 2)} MWh,{' '}
            {fmtNum(s['cycles'], 2)} cycles
          </>
        )}
      </figcaption>
    </figure>
  );
}
