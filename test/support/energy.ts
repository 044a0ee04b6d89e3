/**
 * The storage asset the energy tests and `bench:energy` price: a 10 MWh / 5 MW battery, 95% each
 * way, kept between 1 and 9 MWh, starting at 5.
 */
export const TEST_ASSET = {
  capacityMWh: 10,
  powerMW: 5,
  chargeEfficiency: 0.95,
  dischargeEfficiency: 0.95,
  socMinMWh: 1,
  socMaxMWh: 9,
  initialSocMWh: 5,
} as const;
