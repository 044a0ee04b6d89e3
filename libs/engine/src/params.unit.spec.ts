import { assertStrategyParams, getStrategyInfo, listStrategies, resolveParams, StrategyParamError } from './index';

describe('strategy registry', () => {
  it('lists the strategies with declared params', () => {
    expect(listStrategies().map((s) => s.name)).toEqual(['sma-crossover', 'ema-crossover', 'rsi-reversion', 'donchian-breakout', 'buy-and-hold']);
    expect(getStrategyInfo('sma-crossover')?.params).toEqual([
      expect.objectContaining({ name: 'fast', type: 'integer', min: 1, max: 1000, default: 10 }),
      expect.objectContaining({ name: 'slow', type: 'integer', min: 2, max: 5000, default: 30 }),
    ]);
    expect(getStrategyInfo('nope')).toBeUndefined();
  });

  it('declares a default within bounds for every param', () => {
    for (const s of listStrategies()) {
      const r = resolveParams(s.name, {});
      expect(r.ok).toBe(true);
      if (r.ok) expect(() => assertStrategyParams(s.name, r.params)).not.toThrow();
    }
  });

  it('is frozen', () => {
    const list = listStrategies() as unknown as { name: string }[];
    expect(() => {
      (list[0] as { name: string }).name = 'x';
    }).toThrow(TypeError);
  });
});

describe('resolveParams', () => {
  it('fills defaults', () => {
    expect(resolveParams('sma-crossover', { fast: 5 })).toEqual({ ok: true, params: { fast: 5, slow: 30 } });
    expect(resolveParams('buy-and-hold', {})).toEqual({ ok: true, params: {} });
  });

  it('names an unknown strategy and the known ones', () => {
    expect(resolveParams('x', {})).toEqual({
      ok: false,
      issues: [{ field: 'strategy', reason: 'unknown strategy "x"; known: sma-crossover, ema-crossover, rsi-reversion, donchian-breakout, buy-and-hold' }],
    });
  });

  it('reports every bad param with its field', () => {
    expect(resolveParams('sma-crossover', { fast: 2.5, slow: '30', extra: 1 })).toEqual({
      ok: false,
      issues: [
        { field: 'params.extra', reason: 'unknown parameter; known: fast, slow' },
        { field: 'params.fast', reason: 'must be an integer between 1 and 1000' },
        { field: 'params.slow', reason: 'must be an integer between 2 and 5000' },
      ],
    });
    expect(resolveParams('sma-crossover', { fast: 0 })).toMatchObject({ ok: false, issues: [{ field: 'params.fast', reason: 'must be an integer between 1 and 1000' }] });
    expect(resolveParams('rsi-reversion', { oversold: 0.5 })).toMatchObject({ ok: false, issues: [{ field: 'params.oversold', reason: 'must be a number between 1 and 50' }] });
    expect(resolveParams('rsi-reversion', { overbought: Number.NaN })).toMatchObject({ ok: false, issues: [{ field: 'params.overbought' }] });
    expect(resolveParams('buy-and-hold', { x: 1 })).toMatchObject({ ok: false, issues: [{ field: 'params.x', reason: 'unknown parameter; known: none' }] });
  });

  it('does not check cross-parameter rules', () => {
    expect(resolveParams('sma-crossover', { fast: 30, slow: 10 })).toEqual({ ok: true, params: { fast: 30, slow: 10 } });
  });
});

describe('assertStrategyParams', () => {
  it.each([
    ['sma-crossover', { fast: 30, slow: 10 }, 'params.fast', 'fast (30) must be less than slow (10)'],
    ['sma-crossover', { fast: 10, slow: 10 }, 'params.fast', 'fast (10) must be less than slow (10)'],
    ['ema-crossover', { fast: 26, slow: 12 }, 'params.fast', 'fast (26) must be less than slow (12)'],
    ['rsi-reversion', { period: 14, oversold: 50, overbought: 50 }, 'params.oversold', 'oversold (50) must be less than overbought (50)'],
    ['nope', {}, 'strategy', expect.stringContaining('unknown strategy "nope"') as string],
  ])('%s %j → %s', (strategy, params, field, message) => {
    let caught: unknown;
    try {
      assertStrategyParams(strategy, params);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StrategyParamError);
    expect(caught).toMatchObject({ code: 'STRATEGY_PARAMS_INVALID', field, message });
  });

  it('accepts valid combinations', () => {
    expect(() => assertStrategyParams('sma-crossover', { fast: 10, slow: 30 })).not.toThrow();
    expect(() => assertStrategyParams('donchian-breakout', { period: 5, exitPeriod: 50 })).not.toThrow();
  });
});
