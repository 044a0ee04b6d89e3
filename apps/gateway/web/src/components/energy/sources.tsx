import { useCallback, useEffect, useReducer, useState } from 'preact/hooks';
import { ApiError, get, post, type FieldIssue } from '../../api';
import { SOURCE_FIELDS, sourceRequest, type EnergySource, type SourceField } from '../../energy';
import { fmtInt, fmtTime, issuesAt } from '../../format';
import { ErrorBox } from '../ui';

export interface Sources {
  items?: EnergySource[];
  error?: ApiError;
  reload: () => Promise<void>;
}

export function useSources(): Sources {
  const [items, setItems] = useState<EnergySource[] | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const reload = useCallback(
    (): Promise<void> =>
      get<{ items: EnergySource[] }>('/api/energy/sources')
        .then((r) => {
          setItems(r.items);
          setError(undefined);
        })
        .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, String(err)))),
    [],
  );
  useEffect(() => void reload(), [reload]);
  return { items, error, reload };
}

/** The data source the page works on (its id is the page's `?source=`), and what it holds. */
export function SourcePicker({
  sources,
  selected,
  onSelect,
}: {
  sources: readonly EnergySource[];
  selected: EnergySource | undefined;
  onSelect: (id: string) => void;
}) {
  const a = selected?.asset;
  return (
    <div class="source-picker">
      <label>
        Data source
        <select name="source" value={selected?.id ?? ''} onChange={(e) => onSelect(e.currentTarget.value)}>
          {!selected && <option value="">choose a data source</option>}
          {sources.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name} ({s.origin}, {fmtInt(s.intervals)} × {s.intervalMinutes} min)
            </option>
          ))}
        </select>
      </label>
      {selected && a && (
        <dl class="facts" data-testid="source-facts">
          <div>
            <dt>Prices</dt>
            <dd>
              {fmtTime(selected.from)} → {fmtTime(selected.to)}
              {selected.hasIntraday ? ', day-ahead and intraday' : ', day-ahead only'}
            </dd>
          </div>
          <div>
            <dt>Capacity / power</dt>
            <dd>
              {a.capacityMWh} MWh / {a.powerMW} MW
            </dd>
          </div>
          <div>
            <dt>State of charge</dt>
            <dd>
              {a.socMinMWh}–{a.socMaxMWh} MWh, starts at {a.initialSocMWh}
              {a.finalSocMinMWh !== undefined ? `, ends ≥ ${a.finalSocMinMWh}` : ''}
            </dd>
          </div>
          <div>
            <dt>Efficiency (charge / discharge)</dt>
            <dd>
              {a.chargeEfficiency} / {a.dischargeEfficiency}
            </dd>
          </div>
        </dl>
      )}
    </div>
  );
}

interface FormState {
  values: Readonly<Record<string, string>>;
  busy: boolean;
  error?: ApiError;
}

type FormAction =
  | { type: 'edit'; path: string; value: string }
  | { type: 'submitting' }
  | { type: 'refused'; error: ApiError }
  | { type: 'created' };

function evolveForm(state: FormState, action: FormAction): FormState {
  switch (action.type) {
    case 'edit':
      return { ...state, values: { ...state.values, [action.path]: action.value } };
    case 'submitting':
      return { ...state, busy: true, error: undefined };
    case 'refused':
      return { ...state, busy: false, error: action.error };
    case 'created':
      return { values: {}, busy: false };
    default: {
      const never: never = action;
      return never;
    }
  }
}

const FORM_GROUPS = [
  { title: 'Prices (seeded synthetic)', fields: SOURCE_FIELDS.filter((f) => !f.path.startsWith('asset.')) },
  { title: 'Storage asset', fields: SOURCE_FIELDS.filter((f) => f.path.startsWith('asset.')) },
];

/** A seeded synthetic data source: its prices and the asset they price. A 400's reasons show at their fields. */
export function NewSourceForm({ onCreated }: { onCreated: (source: EnergySource) => void }) {
  const [state, dispatch] = useReducer(evolveForm, { values: {}, busy: false });
  const issues = state.error?.issues ?? [];
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    dispatch({ type: 'submitting' });
    try {
      const created = await post<EnergySource>('/api/energy/sources', sourceRequest(state.values));
      dispatch({ type: 'created' });
      onCreated(created);
    } catch (err) {
      dispatch({ type: 'refused', error: err instanceof ApiError ? err : new ApiError(0, String(err)) });
    }
  };
  // The reasons no input shows (the body as a whole, an unknown field) are listed under the form.
  const unplaced = issues.filter((i) => !SOURCE_FIELDS.some((f) => issuesAt([i], f.path).length > 0));
  return (
    <form class="new-source" onSubmit={(e) => void submit(e)} aria-label="New synthetic data source">
      {FORM_GROUPS.map(({ title, fields }) => (
        <fieldset key={title} class="source-group">
          <legend>{title}</legend>
          <div class="row">
            {fields.map((f) => (
              <SourceInput
                key={f.path}
                field={f}
                value={state.values[f.path] ?? f.initial}
                issues={issues}
                onInput={(value) => dispatch({ type: 'edit', path: f.path, value })}
              />
            ))}
          </div>
        </fieldset>
      ))}
      {state.error && (issues.length === 0 || unplaced.length > 0) && (
        <ErrorBox error={new ApiError(state.error.status, state.error.message, unplaced)} />
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={state.busy}>
          {state.busy ? 'Creating…' : 'Create data source'}
        </button>
      </div>
    </form>
  );
}

function SourceInput({
  field,
  value,
  issues,
  onInput,
}: {
  field: SourceField;
  value: string;
  issues: readonly FieldIssue[];
  onInput: (value: string) => void;
}) {
  const mine = issuesAt(issues, field.path);
  return (
    <label>
      {field.label}
      {field.choices ? (
        <select name={field.path} value={value} onChange={(e) => onInput(e.currentTarget.value)}>
          {field.choices.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      ) : (
        <input
          name={field.path}
          value={value}
          inputMode={field.text ? undefined : 'decimal'}
          placeholder={field.optional ? 'none' : undefined}
          aria-invalid={mine.length > 0}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
      {mine.map((i) => (
        <span class="field-error" key={`${i.field}:${i.reason}`} data-field-error={i.field}>
          {i.reason}
        </span>
      ))}
    </label>
  );
}
