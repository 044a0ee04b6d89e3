import type { StrategyDefinition, StrategyKernel } from './strategy';

/** Always long. The benchmark every other strategy is compared with, and the property tests' oracle. */
class BuyAndHoldKernel implements StrategyKernel {
  run(from: number, to: number, out: Int32Array): number {
    // The decision is long from bar 0's close on and never changes.
    if (from > 0 || to <= 0) return 0;
    out[0] = 0;
    out[1] = 1;
    return 2;
  }
}

export const buyAndHold: StrategyDefinition = {
  info: {
    name: 'buy-and-hold',
    description: "Long from the second bar's open to the end (the first decision is taken on the first bar's close).",
    params: [],
  },
  check: () => undefined,
  firstSignal: () => ({ bar: 0 }),
  createKernel: () => new BuyAndHoldKernel(),
};
