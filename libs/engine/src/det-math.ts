/**
 * ECMAScript leaves Math.log/exp/sin/cos/pow implementation-approximated, so two engines (or two
 * V8 versions) may disagree in the last bit. Everything here uses only + − × ÷ and sqrt, which
 * IEEE-754 requires to be correctly rounded, so results are bit-identical on every conforming
 * engine. Accuracy is ~1 ulp-ish, which is plenty for generating synthetic data.
 */

const LN2 = 0.6931471805599453;
const SQRT1_2 = 0.7071067811865476;

/** Natural log for finite x > 0 (returns NaN otherwise). */
export function detLn(x: number): number {
  if (!(x > 0) || x === Infinity) return NaN;
  // Scale into [sqrt(1/2), sqrt(2)) by powers of two: multiplying by 2 is exact in binary FP.
  let k = 0;
  let m = x;
  while (m >= 2) {
    m *= 0.5;
    k++;
  }
  while (m < 1) {
    m *= 2;
    k--;
  }
  if (m >= 2 * SQRT1_2) {
    m *= 0.5;
    k++;
  }
  // ln(m) = 2 atanh(t) with t = (m-1)/(m+1), |t| <= 0.172: 12 odd terms reach < 1e-19.
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let s = 1 / 23;
  s = s * t2 + 1 / 21;
  s = s * t2 + 1 / 19;
  s = s * t2 + 1 / 17;
  s = s * t2 + 1 / 15;
  s = s * t2 + 1 / 13;
  s = s * t2 + 1 / 11;
  s = s * t2 + 1 / 9;
  s = s * t2 + 1 / 7;
  s = s * t2 + 1 / 5;
  s = s * t2 + 1 / 3;
  s = s * t2 + 1;
  return k * LN2 + 2 * t * s;
}
