import { PNG } from 'pngjs';
import { comparePngs } from './screenshots';

/** A width×height PNG, white, with a filled rectangle of `color` at (x, y, w, h). */
function png(width: number, height: number, rect?: { x: number; y: number; w: number; h: number; color: number[] }) {
  const img = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) img.data.set([255, 255, 255, 255], i * 4);
  if (rect)
    for (let y = rect.y; y < rect.y + rect.h; y++)
      for (let x = rect.x; x < rect.x + rect.w; x++) img.data.set(rect.color, (y * width + x) * 4);
  return PNG.sync.write(img);
}

describe('comparePngs', () => {
  const base = png(100, 50, { x: 10, y: 10, w: 20, h: 10, color: [30, 60, 200, 255] });

  it('given the same image, when compared, then no pixel differs', async () => {
    const result = await comparePngs(base, png(100, 50, { x: 10, y: 10, w: 20, h: 10, color: [30, 60, 200, 255] }));
    expect(result).toMatchObject({ kind: 'pixels', diffPixels: 0, matches: true });
  });

  it('given a moved rectangle, when compared, then the differing pixels are counted and it fails', async () => {
    const moved = png(100, 50, { x: 40, y: 10, w: 20, h: 10, color: [30, 60, 200, 255] });
    const result = await comparePngs(base, moved);
    // 200 pixels left the old place and 200 arrived at the new one (anti-aliasing detection aside).
    expect(result).toMatchObject({ kind: 'pixels', matches: false });
    if (result.kind !== 'pixels') throw new Error('expected a pixel comparison');
    expect(result.diffPixels).toBeGreaterThanOrEqual(300);
    expect(result.diffRatio).toBeCloseTo(result.diffPixels / 5000, 10);
    // The diff image has the size of the inputs and marks the differing pixels in red.
    const diff = PNG.sync.read(result.diff);
    expect([diff.width, diff.height]).toEqual([100, 50]);
    expect([...diff.data.subarray((15 * 100 + 45) * 4, (15 * 100 + 45) * 4 + 3)]).toEqual([255, 0, 0]);
  });

  it('given a colour shift below the threshold, when compared, then it matches', async () => {
    const nearly = png(100, 50, { x: 10, y: 10, w: 20, h: 10, color: [32, 62, 202, 255] });
    expect(await comparePngs(base, nearly)).toMatchObject({ kind: 'pixels', diffPixels: 0, matches: true });
  });

  it('given a few differing pixels, when compared with a tolerance that allows them, then it matches', async () => {
    const dot = png(100, 50, { x: 10, y: 10, w: 20, h: 10, color: [30, 60, 200, 255] });
    const changed = PNG.sync.read(dot);
    changed.data.set([0, 0, 0, 255], (40 * 100 + 80) * 4);
    const one = PNG.sync.write(changed);
    expect(await comparePngs(base, one, { threshold: 0.1, maxDiffRatio: 0.001 })).toMatchObject({
      diffPixels: 1,
      matches: true,
    });
    expect(await comparePngs(base, one, { threshold: 0.1, maxDiffRatio: 0 })).toMatchObject({
      diffPixels: 1,
      matches: false,
    });
  });

  it('given images of different sizes, when compared, then it says both sizes', async () => {
    expect(await comparePngs(base, png(100, 51))).toEqual({ kind: 'size', expected: '100×50', actual: '100×51' });
  });
});
