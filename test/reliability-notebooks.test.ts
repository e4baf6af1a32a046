/**
 * A failing notebook never overwrites the last good executed copy: executed copies are written to a staging
 * folder and moved into place only on success; a failed one goes to failed/ and the message says where.
 * Skipped, with the reason, when Jupyter (nbclient) is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jupyterPython, pythonCheck } from '../src/lab/jupyter';
import { runNotebooks } from '../src/cli/notebooks';

const FIX = path.join(__dirname, 'fixtures', 'jupyter');
const python = jupyterPython();
const noJupyter = pythonCheck(python, 'import nbclient, nbformat, jupyter_client');
const skip = noJupyter ? `${python} has no nbclient/jupyter_client: ${noJupyter.split('\n').pop()}` : false;

test('a failing notebook leaves the previous executed copy and says where the failed one is', { skip, timeout: 180_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nb-'));
  const previous = path.join(out, 'bad.ipynb');
  const prevText = JSON.stringify({ cells: [], metadata: { bnn: { ok: true, note: 'last good run' } }, nbformat: 4, nbformat_minor: 5 });
  fs.writeFileSync(previous, prevText);
  const r = await runNotebooks([path.join(FIX, 'bad.ipynb')], { profile: 'smoke', outDir: out, quiet: true, timeout: 120 });
  assert.equal(r.code, 1, r.output);
  assert.equal(fs.readFileSync(previous, 'utf8'), prevText, 'previous executed copy untouched');
  const failed = path.join(out, 'failed', 'bad.ipynb');
  assert.equal(JSON.parse(fs.readFileSync(failed, 'utf8')).metadata.bnn.ok, false);
  assert.match(r.output, /bad\.ipynb failed: its partly executed copy is .*failed\/bad\.ipynb; the previous executed copy .*bad\.ipynb \(.*\) is kept/);
  assert.deepEqual(fs.readdirSync(out).sort(), ['bad.ipynb', 'failed'], 'no staging folder left');
});
