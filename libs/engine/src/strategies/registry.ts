import { buyAndHold } from './buy-and-hold';
import { donchianBreakout } from './donchian-breakout';
import { emaCrossover } from './ema-crossover';
import { rsiReversion } from './rsi-reversion';
import { smaCrossover } from './sma-crossover';
import type { StrategyDefinition, StrategyInfo } from './strategy';

const DEFINITIONS: readonly StrategyDefinition[] = [smaCrossover, emaCrossover, rsiReversion, donchianBreakout, buyAndHold];
const BY_NAME: ReadonlyMap<string, StrategyDefinition> = new Map(DEFINITIONS.map((d) => [d.info.name, d]));

// Frozen so a host that serialises or caches the list can't mutate the engine's declarations.
const INFOS: readonly StrategyInfo[] = Object.freeze(
  DEFINITIONS.map((d) => Object.freeze({ ...d.info, params: Object.freeze(d.info.params.map((p) => Object.freeze({ ...p }))) })),
);

export function listStrategies(): readonly StrategyInfo[] {
  return INFOS;
}

export function getStrategyInfo(name: string): StrategyInfo | undefined {
  return INFOS.find((s) => s.name === name);
}

export function getStrategyDefinition(name: string): StrategyDefinition | undefined {
  return BY_NAME.get(name);
}

export function strategyNames(): string[] {
  return DEFINITIONS.map((d) => d.info.name);
}
