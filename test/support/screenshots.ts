import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { Locator } from 'playwright-core';

/**
 * Screenshots compared against committed references (test/e2e/__screenshots__/<name>.png).
 * `UPDATE_SCREENSHOTS=1` writes the references instead of comparing; a missing reference fails
 * (a new test must not pass on its first run by writing what it saw). On a mismatch the actual,
 * expected and diff images land in artifacts/screenshots/.
 */
const ROOT = path.resolve(__dirname, '../..');
export const REFERENCES = path.join(ROOT, 'test/e2e/__screenshots__');
const FAILURES = path.join(ROOT, 'artifacts/screenshots');
/** Where the mask boxes are painted: a colour no dashboard style uses, so they read as masks. */
const MASK_COLOR = '#ff00ff';

export interface Tolerance {
  /** pixelmatch's per-pixel colour threshold (0 exact … 1 anything); anti-aliased pixels are ignored. */
  readonly threshold: number;
  /** The share of pixels that may differ beyond it. */
  readonly maxDiffRatio: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { threshold: 0.1, maxDiffRatio: 0.001 };

export type Comparison =
  | { readonly kind: 'size'; readonly expected: string; readonly actual: string }
  | {
      readonly kind: 'pixels';
      readonly diffPixels: number;
      readonly diffRatio: number;
      readonly matches: boolean;
      /** The diff image (PNG): differing pixels red over a faded copy of the expected image. */
      readonly diff: Buffer;
    };

/** Compares two PNGs pixel by pixel within `tolerance`. Pure: no files. */
export async function comparePngs(
  expected: Buffer,
  actual: Buffer,
  tolerance: Tolerance = DEFAULT_TOLERANCE,
): Promise<Comparison> {
  // pixelmatch is an ES module only: imported, not required.
  const { default: pixelmatch } = await import('pixelmatch');
  const a = PNG.sync.read(expected);
  const b = PNG.sync.read(actual);
  if (a.width !== b.width || a.height !== b.height)
    return { kind: 'size', expected: `${a.width}×${a.height}`, actual: `${b.width}×${b.height}` };
  const diff = new PNG({ width: a.width, height: a.height });
  const diffPixels = pixelmatch(a.data, b.data, diff.data, a.width, a.height, { threshold: tolerance.threshold });
  const diffRatio = diffPixels / (a.width * a.height);
  return {
    kind: 'pixels',
    diffPixels,
    diffRatio,
    matches: diffRatio <= tolerance.maxDiffRatio,
    diff: PNG.sync.write(diff),
  };
}

export interface ScreenshotOptions {
  /** Elements whose content changes between runs (ids, times, durations): painted over. */
  readonly mask?: Locator[];
  /** CSS applied while the screenshot is taken (e.g. to take an element out of a moving stack). */
  readonly style?: string;
  readonly tolerance?: Partial<Tolerance>;
}

/**
 * Takes an element's screenshot — animations stopped, caret hidden, CSS pixels — and compares it
 * with its reference, or writes the reference under `UPDATE_SCREENSHOTS=1`.
 */
export async function expectScreenshot(target: Locator, name: string, options: ScreenshotOptions = {}): Promise<void> {
  await target.scrollIntoViewIfNeeded();
  const actual = await target.screenshot({
    animations: 'disabled',
    caret: 'hide',
    scale: 'css',
    mask: options.mask ?? [],
    maskColor: MASK_COLOR,
    ...(options.style ? { style: options.style } : {}),
  });
  const reference = path.join(REFERENCES, `${name}.png`);
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(REFERENCES, { recursive: true });
    writeFileSync(reference, actual);
    return;
  }
  if (!existsSync(reference))
    throw new Error(
      `no reference screenshot ${path.relative(ROOT, reference)}: run the test with UPDATE_SCREENSHOTS=1, look at it, commit it`,
    );
  const expected = readFileSync(reference);
  const result = await comparePngs(expected, actual, { ...DEFAULT_TOLERANCE, ...options.tolerance });
  if (result.kind === 'pixels' && result.matches) return;
  mkdirSync(FAILURES, { recursive: true });
  const out = (suffix: string) => path.join(FAILURES, `${name}.${suffix}.png`);
  writeFileSync(out('actual'), actual);
  writeFileSync(out('expected'), expected);
  if (result.kind === 'pixels') writeFileSync(out('diff'), result.diff);
  const what =
    result.kind === 'size'
      ? `its size changed from ${result.expected} to ${result.actual}`
      : `${result.diffPixels} pixels (${(result.diffRatio * 100).toFixed(2)} %) differ`;
  throw new Error(
    `screenshot "${name}" does not match its reference: ${what}. See ${path.relative(ROOT, FAILURES)}/${name}.{actual,expected,diff}.png; ` +
      'if the change is intended, run the test with UPDATE_SCREENSHOTS=1 and commit the new reference.',
  );
}
