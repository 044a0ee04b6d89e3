import { useEffect, useState } from 'preact/hooks';
import type { SubmitBacktestAnswer, SubmitOptimizationAnswer } from '@runforge/contracts';
import {
  ApiError,
  get,
  post,
  type Dataset,
  type FieldIssue,
  type ParamSpec,
  type RunKind,
  type Strategy,
} from '../api';
import {
  combinationCount,
  describeMaxFailedTrials,
  fmtInt,
  fmtTime,
  issuesAt,
  parseAxis,
  windowBound,
  type AxisInput,
  type AxisValue,
} from '../format';
import { navigate } from '../router';
import { toast, watchUntilDone } from '../toasts';
import { ErrorBox, Loading } from '../components/ui';

interface AxisState {
  vary: boolean;
  input: AxisInput;
}

function initialAxis(p: ParamSpec): AxisState {
  if (p.type === 'integer' || p.type === 'number') {
    const d = Number(p.default);
    const min = p.min ?? d;
    const max = p.max ?? d * 2;
    const step = p.type === 'integer' ? Math.max(1, Math.round((max - min) / 4)) : (max - min) / 4 || 1;
    return {
      vary: true,
      input: { mode: 'range', min: String(d), max: String(Math.min(max, d + step * 2)), step: String(step) },
    };
  }
  if (p.type === 'boolean') return { vary: false, input: { mode: 'values', text: 'true, false' } };
  return { vary: false, input: { mode: 'values', text: (p.values ?? []).join(', ') } };
}

function coerce(p: ParamSpec, raw: string | boolean): number | boolean | string {
  if (p.type === 'boolean') return raw === true || raw === 'true';
  if (p.type === 'integer' || p.type === 'number') return raw === '' ? Number.NaN : Number(raw);
  return String(raw);
}

/**
 * A new backtest or optimization. The form is generated from the strategy's declared parameters
 * (`GET /api/strategies`); for an optimization each parameter is fixed or varied along an axis,
 * and the number of combinations is computed here as the axes change (before constraints: the
 * server's count, after constraints, is shown once it accepted the run).
 */
export function NewRun({ initialKind }: { initialKind: RunKind }) {
  const [strategies, setStrategies] = useState<Strategy[] | undefined>(undefined);
  // Timeframes and objective metrics come from the gateway with the strategies (one definition).
  const [timeframes, setTimeframes] = useState<string[]>([]);
  const [objectives, setObjectives] = useState<string[]>([]);
  const [defaultDirections, setDefaultDirections] = useState<Record<string, string>>({});
  const [loadError, setLoadError] = useState<ApiError | undefined>(undefined);
  const [kind, setKind] = useState<RunKind>(initialKind);
  const [strategyName, setStrategyName] = useState('');
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [axes, setAxes] = useState<Record<string, AxisState>>({});
  const [constraints, setConstraints] = useState('');
  const [objective, setObjective] = useState('sharpe');
  // '' leaves the direction to the API's default for the metric (minimize for maxDrawdown).
  const [direction, setDirection] = useState<'' | 'maximize' | 'minimize'>('');
  const [maxFailedTrials, setMaxFailedTrials] = useState('');
  // Synthetic bars (seeded), or an uploaded dataset (`GET /api/datasets`) with an optional window.
  const [source, setSource] = useState<'synthetic' | 'uploaded'>('synthetic');
  const [datasets, setDatasets] = useState<Dataset[] | undefined>(undefined);
  const [datasetsError, setDatasetsError] = useState<ApiError | undefined>(undefined);
  const [datasetId, setDatasetId] = useState('');
  const [windowFrom, setWindowFrom] = useState('');
  const [windowTo, setWindowTo] = useState('');
  const [bars, setBars] = useState('200000');
  const [seed, setSeed] = useState('42');
  const [timeframe, setTimeframe] = useState('1m');
  const [initialCapital, setInitialCapital] = useState('10000');
  const [commissionBps, setCommissionBps] = useState('1');
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<ApiError | undefined>(undefined);

  const loadStrategies = (): void => {
    setLoadError(undefined);
    get<{
      strategies: Strategy[];
      timeframes: string[];
      objectiveMetrics: string[];
      objectiveDefaultDirections?: Record<string, string>;
    }>('/api/strategies')
      .then((s) => {
        setTimeframes(s.timeframes);
        setObjectives(s.objectiveMetrics);
        setDefaultDirections(s.objectiveDefaultDirections ?? {});
        setStrategies(s.strategies);
        const first = s.strategies.find((x) => x.name === 'sma-crossover') ?? s.strategies[0];
        if (first) selectStrategy(first);
      })
      .catch((err: unknown) => setLoadError(err instanceof ApiError ? err : new ApiError(0, String(err))));
  };
  useEffect(loadStrategies, []);

  const loadDatasets = (): void => {
    setDatasetsError(undefined);
    setDatasets(undefined);
    get<{ items: Dataset[] }>('/api/datasets')
      .then((d) => setDatasets(d.items))
      .catch((err: unknown) => setDatasetsError(err instanceof ApiError ? err : new ApiError(0, String(err))));
  };
  useEffect(() => {
    if (source === 'uploaded' && datasets === undefined && !datasetsError) loadDatasets();
  }, [source]);
  const dataset = datasets?.find((d) => d.id === datasetId);
  const issues = submitError?.issues ?? [];
  /** Editing a field the API refused takes its reason away (the rest of the 400 stays). */
  const edited = (field: string): void => {
    if (!submitError || issuesAt(submitError.issues, field).length === 0) return;
    const rest = submitError.issues.filter((i) => issuesAt([i], field).length === 0);
    setSubmitError(rest.length > 0 ? new ApiError(submitError.status, submitError.message, rest) : undefined);
  };

  const strategy = strategies?.find((s) => s.name === strategyName);

  function selectStrategy(s: Strategy): void {
    setStrategyName(s.name);
    setValues(
      Object.fromEntries(s.params.map((p) => [p.name, typeof p.default === 'boolean' ? p.default : String(p.default)])),
    );
    setAxes(Object.fromEntries(s.params.map((p) => [p.name, initialAxis(p)])));
  }

  const parsedAxes = (strategy?.params ?? [])
    .filter((p) => axes[p.name]?.vary)
    .map((p) => ({ p, parsed: parseAxis(axes[p.name]?.input ?? { mode: 'values', text: '' }, p.type) }));
  const axisErrors = parsedAxes.filter((a) => 'error' in a.parsed);
  const combos = combinationCount(parsedAxes.map((a) => ('count' in a.parsed ? a.parsed.count : 0)));

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!strategy) return;
    setSubmitError(undefined);
    const params: Record<string, unknown> = {};
    const axesBody: Record<string, AxisValue> = {};
    for (const p of strategy.params) {
      const a = axes[p.name];
      const parsed = kind === 'optimization' && a?.vary ? parseAxis(a.input, p.type) : undefined;
      if (parsed && 'value' in parsed) axesBody[p.name] = parsed.value;
      else params[p.name] = coerce(p, values[p.name] ?? '');
    }
    const from = windowBound(windowFrom);
    const to = windowBound(windowTo);
    const common = {
      strategy: strategy.name,
      params,
      dataset:
        source === 'uploaded'
          ? { id: datasetId, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) }
          : { synthetic: { bars: Number(bars), seed: Number(seed), timeframe } },
      initialCapital: Number(initialCapital),
      commissionBps: Number(commissionBps),
    };
    const constraintList = constraints
      .split('\n')
      .map((c) => c.trim())
      .filter(Boolean);
    const body =
      kind === 'backtest'
        ? common
        : {
            ...common,
            axes: axesBody,
            ...(constraintList.length ? { constraints: constraintList } : {}),
            objective: { metric: objective, ...(direction ? { direction } : {}) },
            ...(maxFailedTrials.trim() !== '' ? { maxFailedTrials: Number(maxFailedTrials) } : {}),
          };
    setSubmitting(true);
    try {
      const url = kind === 'backtest' ? '/api/backtests' : '/api/optimizations';
      const accepted = await post<SubmitBacktestAnswer | SubmitOptimizationAnswer>(url, body);
      watchUntilDone(accepted.id);
      toast({
        tone: 'info',
        text:
          'totalCombinations' in accepted
            ? `Optimization accepted: ${fmtInt(accepted.totalCombinations)} combinations`
            : `Backtest accepted: ${fmtInt(accepted.totalBars)} bars`,
        href: `/runs/${accepted.id}`,
      });
      navigate(`/runs/${accepted.id}`);
    } catch (err) {
      setSubmitError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setSubmitting(false);
    }
  };

  if (loadError) return <ErrorBox error={loadError} retry={loadStrategies} />;
  if (!strategies) return <Loading what="strategies" />;
  if (strategies.length === 0) return <p class="state state-empty">The gateway declares no strategy.</p>;

  return (
    <form class="run-form" onSubmit={(e) => void submit(e)} aria-label="New run">
      <div class="page-head">
        <h1>New run</h1>
      </div>
      <fieldset class="card">
        <legend>What</legend>
        <div class="segmented" role="radiogroup" aria-label="Kind">
          {(['backtest', 'optimization'] as const).map((k) => (
            <label key={k} class={kind === k ? 'on' : ''}>
              <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {k === 'backtest' ? 'Backtest' : 'Optimization'}
            </label>
          ))}
        </div>
        <label>
          Strategy
          <select
            name="strategy"
            value={strategyName}
            onChange={(e) => {
              const s = strategies.find((x) => x.name === e.currentTarget.value);
              if (s) selectStrategy(s);
            }}
          >
            {strategies.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        {strategy && <p class="hint">{strategy.description}</p>}
      </fieldset>

      {strategy && (
        <fieldset class="card">
          <legend>Parameters</legend>
          {strategy.params.length === 0 && <p class="hint">This strategy has no parameters.</p>}
          {strategy.params.map((p) => {
            const a = axes[p.name];
            const varied = kind === 'optimization' && a?.vary;
            const parsed = varied && a ? parseAxis(a.input, p.type) : undefined;
            return (
              <div class="param" key={p.name} data-param={p.name}>
                <div class="param-head">
                  <strong>{p.name}</strong>
                  <span class="hint">
                    {p.type}
                    {p.min !== undefined && ` ≥ ${p.min}`}
                    {p.max !== undefined && ` ≤ ${p.max}`} · {p.description}
                  </span>
                  {kind === 'optimization' && a && (
                    <label class="inline">
                      <input
                        type="checkbox"
                        name={`vary-${p.name}`}
                        checked={a.vary}
                        onChange={(e) => setAxes({ ...axes, [p.name]: { ...a, vary: e.currentTarget.checked } })}
                      />
                      vary
                    </label>
                  )}
                </div>
                {!varied && (
                  <ParamInput
                    p={p}
                    value={values[p.name] ?? ''}
                    onChange={(v) => setValues({ ...values, [p.name]: v })}
                  />
                )}
                {varied && a && (
                  <AxisEditor
                    name={p.name}
                    numeric={p.type === 'integer' || p.type === 'number'}
                    input={a.input}
                    onChange={(input) => setAxes({ ...axes, [p.name]: { ...a, input } })}
                  />
                )}
                {parsed && 'error' in parsed && <p class="field-error">{parsed.error}</p>}
                {parsed && 'count' in parsed && <p class="hint">{parsed.count} values</p>}
              </div>
            );
          })}
        </fieldset>
      )}

      {kind === 'optimization' && (
        <fieldset class="card">
          <legend>Search</legend>
          <p class="combos" data-testid="combination-count">
            <strong>{axisErrors.length ? '–' : fmtInt(combos)}</strong> combinations
            {parsedAxes.length === 0 && ' (vary at least one parameter)'}
            {constraints.trim() && ' before constraints'}
          </p>
          <label>
            Constraints (one per line, e.g. <code>fast &lt; slow</code>)
            <textarea
              name="constraints"
              rows={2}
              value={constraints}
              onInput={(e) => setConstraints(e.currentTarget.value)}
            />
          </label>
          <div class="row">
            <label>
              Objective
              <select name="objective" value={objective} onChange={(e) => setObjective(e.currentTarget.value)}>
                {objectives.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            </label>
            <label>
              Direction
              <select
                name="direction"
                value={direction}
                onChange={(e) => {
                  const v = e.currentTarget.value;
                  setDirection(v === 'minimize' || v === 'maximize' ? v : '');
                }}
              >
                <option value="">
                  {defaultDirections[objective] ? `default (${defaultDirections[objective]})` : 'default'}
                </option>
                <option>maximize</option>
                <option>minimize</option>
              </select>
            </label>
          </div>
          <div class="row">
            <label>
              Max failed trials (optional)
              <input
                name="maxFailedTrials"
                type="number"
                step="any"
                placeholder="e.g. 5 or 0.2"
                value={maxFailedTrials}
                onInput={(e) => {
                  setMaxFailedTrials(e.currentTarget.value);
                  edited('maxFailedTrials');
                }}
              />
            </label>
          </div>
          <p class="hint" data-testid="max-failed-hint">
            {describeMaxFailedTrials(maxFailedTrials) ??
              'A count — a whole number, e.g. 5 — or a share of the grid between 0 and 1, e.g. 0.2 for 20%: the run stops as Failed once that many trials have failed. Empty: every combination runs, and the run fails only if all of them fail.'}
          </p>
          <FieldIssues issues={issues} field="maxFailedTrials" />
        </fieldset>
      )}

      <fieldset class="card">
        <legend>Data</legend>
        <div class="segmented" role="radiogroup" aria-label="Data source">
          {(['synthetic', 'uploaded'] as const).map((k) => (
            <label key={k} class={source === k ? 'on' : ''}>
              <input type="radio" name="datasetSource" value={k} checked={source === k} onChange={() => setSource(k)} />
              {k === 'synthetic' ? 'Synthetic' : 'Uploaded dataset'}
            </label>
          ))}
        </div>
        {source === 'synthetic' ? (
          <div class="row">
            <label>
              Synthetic bars
              <input
                name="bars"
                type="number"
                min={2}
                step={1}
                value={bars}
                onInput={(e) => {
                  setBars(e.currentTarget.value);
                  edited('dataset.synthetic.bars');
                }}
              />
              <FieldIssues issues={issues} field="dataset.synthetic.bars" />
            </label>
            <label>
              Seed
              <input
                name="seed"
                type="number"
                step={1}
                value={seed}
                onInput={(e) => {
                  setSeed(e.currentTarget.value);
                  edited('dataset.synthetic.seed');
                }}
              />
              <FieldIssues issues={issues} field="dataset.synthetic.seed" />
            </label>
            <label>
              Timeframe
              <select name="timeframe" value={timeframe} onChange={(e) => setTimeframe(e.currentTarget.value)}>
                {timeframes.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </label>
          </div>
        ) : (
          <>
            <DatasetPicker
              datasets={datasets}
              error={datasetsError}
              selected={datasetId}
              onSelect={(id) => {
                setDatasetId(id);
                edited('dataset.id');
              }}
              reload={loadDatasets}
            />
            <FieldIssues issues={issues} field="dataset.id" />
            {datasets && datasets.length > 0 && (
              <>
                <div class="row">
                  <label>
                    From (optional)
                    <input
                      name="datasetFrom"
                      placeholder={dataset?.firstTime ?? 'e.g. 2024-01-10T00:00:00Z'}
                      value={windowFrom}
                      onInput={(e) => {
                        setWindowFrom(e.currentTarget.value);
                        edited('dataset.from');
                      }}
                    />
                    <FieldIssues issues={issues} field="dataset.from" />
                  </label>
                  <label>
                    To (optional)
                    <input
                      name="datasetTo"
                      placeholder={dataset?.lastTime ?? 'e.g. 2024-02-20T00:00:00Z'}
                      value={windowTo}
                      onInput={(e) => {
                        setWindowTo(e.currentTarget.value);
                        edited('dataset.to');
                      }}
                    />
                    <FieldIssues issues={issues} field="dataset.to" />
                  </label>
                </div>
                <p class="hint">
                  A window on bar time, both ends included: ISO-8601 with a zone (<code>2024-01-10T00:00:00Z</code>) or
                  epoch milliseconds. Empty: the whole dataset.
                </p>
              </>
            )}
          </>
        )}
        <FieldIssues issues={issues} field="dataset" exact />
      </fieldset>

      <fieldset class="card">
        <legend>Costs</legend>
        <div class="row">
          <label>
            Initial capital
            <input
              name="initialCapital"
              type="number"
              min={1}
              value={initialCapital}
              onInput={(e) => {
                setInitialCapital(e.currentTarget.value);
                edited('initialCapital');
              }}
            />
            <FieldIssues issues={issues} field="initialCapital" />
          </label>
          <label>
            Commission (bps)
            <input
              name="commissionBps"
              type="number"
              min={0}
              step="any"
              value={commissionBps}
              onInput={(e) => {
                setCommissionBps(e.currentTarget.value);
                edited('commissionBps');
              }}
            />
            <FieldIssues issues={issues} field="commissionBps" />
          </label>
        </div>
      </fieldset>

      {submitError && <ErrorBox error={submitError} />}
      <div class="actions">
        <button
          type="submit"
          class="primary"
          disabled={
            submitting ||
            (source === 'uploaded' && !dataset) ||
            (kind === 'optimization' && (axisErrors.length > 0 || parsedAxes.length === 0))
          }
        >
          {submitting ? 'Submitting…' : kind === 'backtest' ? 'Run backtest' : 'Run optimization'}
        </button>
        {source === 'uploaded' && !dataset && <span class="hint">Pick a dataset to run over.</span>}
      </div>
    </form>
  );
}

function ParamInput({
  p,
  value,
  onChange,
}: {
  p: ParamSpec;
  value: string | boolean;
  onChange: (v: string | boolean) => void;
}) {
  if (p.type === 'boolean') {
    return (
      <label class="inline">
        <input
          type="checkbox"
          name={`param-${p.name}`}
          checked={value === true}
          onChange={(e) => onChange(e.currentTarget.checked)}
        />
        {p.name}
      </label>
    );
  }
  if (p.type === 'enum') {
    return (
      <select
        name={`param-${p.name}`}
        aria-label={p.name}
        value={String(value)}
        onChange={(e) => onChange(e.currentTarget.value)}
      >
        {(p.values ?? []).map((v) => (
          <option key={v}>{v}</option>
        ))}
      </select>
    );
  }
  return (
    <input
      type="number"
      name={`param-${p.name}`}
      aria-label={p.name}
      min={p.min}
      max={p.max}
      step={p.type === 'integer' ? 1 : 'any'}
      value={String(value)}
      onInput={(e) => onChange(e.currentTarget.value)}
    />
  );
}

function AxisEditor({
  name,
  numeric,
  input,
  onChange,
}: {
  name: string;
  numeric: boolean;
  input: AxisInput;
  onChange: (a: AxisInput) => void;
}) {
  return (
    <div class="axis">
      {numeric && (
        <select
          name={`axis-${name}-mode`}
          aria-label={`${name} axis mode`}
          value={input.mode}
          onChange={(e) =>
            onChange(
              e.currentTarget.value === 'range'
                ? { mode: 'range', min: '', max: '', step: '1' }
                : { mode: 'values', text: '' },
            )
          }
        >
          <option value="range">range</option>
          <option value="values">values</option>
        </select>
      )}
      {input.mode === 'values' ? (
        <input
          name={`axis-${name}-values`}
          aria-label={`${name} values`}
          placeholder="e.g. 5, 10, 20"
          value={input.text}
          onInput={(e) => onChange({ mode: 'values', text: e.currentTarget.value })}
        />
      ) : (
        <>
          {(['min', 'max', 'step'] as const).map((k) => (
            <input
              key={k}
              type="number"
              step="any"
              name={`axis-${name}-${k}`}
              aria-label={`${name} ${k}`}
              placeholder={k}
              value={input[k]}
              onInput={(e) => onChange({ ...input, [k]: e.currentTarget.value })}
            />
          ))}
        </>
      )}
    </div>
  );
}

/** The reasons a 400 gave for one field, shown next to its input (the full list stays under the form). */
function FieldIssues({
  issues,
  field,
  exact = false,
}: {
  issues: readonly FieldIssue[];
  field: string;
  exact?: boolean;
}) {
  const mine = exact ? issues.filter((i) => i.field === field) : issuesAt(issues, field);
  if (mine.length === 0) return null;
  return (
    <>
      {mine.map((i) => (
        <span class="field-error" key={`${i.field}:${i.reason}`} data-field-error={i.field}>
          {i.reason}
        </span>
      ))}
    </>
  );
}

/** Uploaded datasets to pick from, newest first as the API lists them; says how to upload one when there is none. */
function DatasetPicker({
  datasets,
  error,
  selected,
  onSelect,
  reload,
}: {
  datasets: Dataset[] | undefined;
  error: ApiError | undefined;
  selected: string;
  onSelect: (id: string) => void;
  reload: () => void;
}) {
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!datasets) return <Loading what="datasets" />;
  if (datasets.length === 0) {
    return (
      <div class="state state-empty datasets-empty" data-testid="datasets-empty">
        <p>
          No dataset has been uploaded yet. Upload an OHLCV CSV (a header row, then one bar per line:
          <code> timestamp,open,high,low,close,volume</code>) with:
        </p>
        <pre class="command" data-testid="upload-command">
          {`curl -X POST '${window.location.origin}/api/datasets?symbol=BTCUSD&name=btc-hourly' \\\n  -H 'content-type: text/csv' --data-binary @btc-1h.csv`}
        </pre>
        <button type="button" onClick={reload}>
          Reload the list
        </button>
      </div>
    );
  }
  return (
    <div class="table-wrap">
      <table class="datasets" data-testid="datasets">
        <thead>
          <tr>
            <th />
            <th>Name</th>
            <th>Symbol</th>
            <th>Timeframe</th>
            <th>Bars</th>
            <th>From</th>
            <th>To</th>
          </tr>
        </thead>
        <tbody>
          {datasets.map((d) => (
            <tr
              key={d.id}
              data-dataset-id={d.id}
              class={selected === d.id ? 'selected' : ''}
              onClick={() => onSelect(d.id)}
            >
              <td>
                <input
                  type="radio"
                  name="datasetId"
                  value={d.id}
                  checked={selected === d.id}
                  aria-label={`${d.name ?? d.symbol} (${d.symbol}, ${d.timeframe}, ${fmtInt(d.bars)} bars)`}
                  onChange={() => onSelect(d.id)}
                />
              </td>
              <td>{d.name ?? <span class="hint">–</span>}</td>
              <td>{d.symbol}</td>
              <td>{d.timeframe}</td>
              <td>{fmtInt(d.bars)}</td>
              <td>{fmtTime(d.firstTime)}</td>
              <td>{fmtTime(d.lastTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">
        <button type="button" class="link" onClick={reload}>
          Reload the list
        </button>
        {datasets.length === 1 ? ' 1 dataset' : ` ${fmtInt(datasets.length)} datasets`} uploaded.
      </p>
    </div>
  );
}
