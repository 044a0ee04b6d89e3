import { useEffect, useState } from 'preact/hooks';
import { get, type KindInfo } from '../../api';
import { ENERGY_KINDS, MARKET_TIME_ZONE, type DmoBlock, type EnergyKind, type EnergySource } from '../../energy';
import { fmtTimeIn, shortId } from '../../format';
import { ErrorBox } from '../ui';
import type { EnergyJobs } from './use-energy-jobs';

/** What each model answers, in a few words; the kinds' own descriptions (`GET /api/kinds`) follow. */
const TITLES: Record<EnergyKind, string> = {
  dmo: 'Day-ahead market',
  rmo: 'Real-time market',
  so: 'Storage set-points',
};

let kindsPromise: Promise<KindInfo[]> | undefined;
function kindDescriptions(): Promise<KindInfo[]> {
  kindsPromise ??= get<{ items: KindInfo[] }>('/api/kinds')
    .then((r) => r.items)
    .catch(() => {
      kindsPromise = undefined;
      return [];
    });
  return kindsPromise;
}

/** DMO, RMO and SO, each with a Run button; DMO's is disabled with the reason while today's run holds its slot. */
export function ModelCards({ source, jobs }: { source: EnergySource; jobs: EnergyJobs }) {
  const [kinds, setKinds] = useState<KindInfo[]>([]);
  useEffect(() => {
    void kindDescriptions().then(setKinds);
  }, []);
  return (
    <div class="model-cards">
      {ENERGY_KINDS.map((kind) => {
        const blocked = kind === 'dmo' ? jobs.dmoBlock : undefined;
        const noIntraday = kind === 'rmo' && !source.hasIntraday;
        const busy = jobs.submitting.has(kind);
        const refusal = jobs.refusals[kind];
        return (
          <article key={kind} class="model-card" data-testid={`model-card-${kind}`}>
            <header>
              <h3>
                {kind.toUpperCase()} <span class="model-title">{TITLES[kind]}</span>
              </h3>
            </header>
            <p class="hint">{kinds.find((k) => k.name === kind)?.description}</p>
            {blocked && <DmoAlert block={blocked} />}
            {noIntraday && <p class="alert">This data source has no intraday prices, which RMO re-plans at.</p>}
            {refusal && <ErrorBox error={refusal} />}
            <button
              type="button"
              class="primary"
              disabled={busy || blocked !== undefined || noIntraday}
              onClick={() => void jobs.submit(kind)}
            >
              {busy ? 'Starting…' : `Run ${kind.toUpperCase()}`}
            </button>
          </article>
        );
      })}
    </div>
  );
}

function DmoAlert({ block }: { block: DmoBlock }) {
  const { run, message, nextAllowedAt } = block;
  return (
    <div class="alert" role="alert" data-testid="dmo-ran-today">
      <p>
        DMO already ran today for this data source
        {run && (
          <>
            {' '}
            (<a href={`/runs/${run.id}`}>{shortId(run.id)}</a>, {run.status.toLowerCase()}, requested{' '}
            {fmtTimeIn(run.requestedAt, MARKET_TIME_ZONE)})
          </>
        )}
        . It may run again from{' '}
        <strong data-testid="dmo-next-allowed">{fmtTimeIn(nextAllowedAt, MARKET_TIME_ZONE)}</strong>.
      </p>
      {message && <p class="server-says">{message}</p>}
    </div>
  );
}
