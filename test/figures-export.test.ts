/**
 * Static export with headless Chromium: valid PNG (magic bytes, IHDR size = layout × scale), SVG and a
 * one-page vector PDF of the figure's size. Skipped, with the reason, when Chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHROMIUM_HELP, FigureExporter, findChromium } from '../src/lab/export';
import { accuracyCurves, loadRun, segmentationGrid, loadPredictions, toSeries } from '../src/figures/index';

const ROOT = path.join(__dirname, 'fixtures', 'figures', 'stored-results');
const chromium = findChromium();
const skip = chromium ? false : `Chromium not found (${CHROMIUM_HELP})`;

test('export writes valid PNG, SVG and PDF files', { skip, timeout: 120_000 }, async () => {
  const fig = accuracyCurves(
    [
      toSeries(loadRun('cifar10-adam-baseline', 'quick', ROOT)!, 'Adam'),
      toSeries(loadRun('cifar10-bop', 'quick', ROOT)!, 'Bop'),
    ],
    {
      title: 'export test',
    },
  );
  const grid = segmentationGrid(loadPredictions(loadRun('pets-unet-binary-bop', 'quick', ROOT)!).samples);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-export-'));
  const exporter = await FigureExporter.launch();
  try {
    const files = await exporter.write(fig, path.join(out, 'fig'), ['png', 'svg', 'pdf', 'html']);
    assert.deepEqual(
      files.map((f) => path.basename(f)),
      ['fig.png', 'fig.svg', 'fig.pdf', 'fig.html'],
    );
    const png = fs.readFileSync(path.join(out, 'fig.png'));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString('ascii'), 'IHDR');
    assert.equal(png.readUInt32BE(16), fig.layout.width * 3);
    assert.equal(png.readUInt32BE(20), fig.layout.height * 3);

    const svg = fs.readFileSync(path.join(out, 'fig.svg'), 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, new RegExp(`width="${fig.layout.width}"`));
    assert.ok(svg.includes('export test'), 'title text is in the SVG');
    assert.ok(svg.includes('Bop'), 'legend text is in the SVG');

    const pdf = fs.readFileSync(path.join(out, 'fig.pdf'));
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    const text = pdf.toString('latin1');
    assert.equal((text.match(/\/Type\s*\/Page[^s]/g) ?? []).length, 1, 'one page');
    // MediaBox in points = CSS px × 0.75
    const box = /\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/.exec(text);
    assert.ok(box, 'has a MediaBox');
    assert.ok(Math.abs(Number(box[1]) - fig.layout.width * 0.75) < 2, `width ${box[1]}`);
    assert.ok(Math.abs(Number(box[2]) - fig.layout.height * 0.75) < 2, `height ${box[2]}`);
    assert.ok(!/\/Subtype\s*\/Image/.test(text), 'vector: no embedded raster image');

    const gridPng = await exporter.png(grid, { scale: 1 });
    assert.equal(gridPng.readUInt32BE(16), grid.layout.width);
    assert.equal(gridPng.readUInt32BE(20), grid.layout.height);
  } finally {
    await exporter.close();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a missing Chromium gives an install hint', async () => {
  await assert.rejects(
    FigureExporter.launch({ executablePath: '/nonexistent/chromium' }),
    /Chromium not found at \/nonexistent\/chromium\. .*apt-get install chromium/,
  );
});
