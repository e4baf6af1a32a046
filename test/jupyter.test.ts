/**
 * The project-local Jupyter setup: the tslab-bnn kernelspec is valid and found by Jupyter with the
 * environment of `npm run lab`, and notebooks execute headless through the `npm run notebooks` machinery
 * (a tiny notebook importing from src/ passes and is signed as trusted; a failing one exits 1 naming
 * notebook and cell). Skipped, with the reason, when /usr/bin/python3 has no nbclient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { KERNEL_NAME, jupyterEnv, jupyterPython, pythonCheck } from '../src/lab/jupyter';
import { repoRoot as projectRootDir } from '../src/util/paths';
import { runNotebooks } from '../src/cli/notebooks';
import { PLOTLY_MIME, PLOTLY_REL_PATH } from '../src/figures/display';
import { findChromium } from '../src/lab/chromium';
import { renderNotebooks, startNotebookServer } from '../src/lab/render';

const ROOT = projectRootDir();
const FIX = path.join(__dirname, 'fixtures', 'jupyter');
const python = jupyterPython();
const noJupyter = pythonCheck(python, 'import nbclient, nbformat, jupyter_client');
const skip = noJupyter
  ? `${python} has no nbclient/jupyter_client (apt-get install jupyter-notebook python3-nbclient): ${noJupyter.split('\n').pop()}`
  : false;

test('kernelspec jupyter/kernels/tslab-bnn/kernel.json is valid and starts the wrapper', () => {
  const dir = path.join(ROOT, 'jupyter', 'kernels', KERNEL_NAME);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'));
  assert.equal(spec.language, 'typescript');
  assert.ok(Array.isArray(spec.argv) && spec.argv.includes('{connection_file}'));
  assert.equal(spec.argv[0], 'node');
  const wrapper = path.resolve(spec.argv[1].replace('{resource_dir}', dir));
  assert.equal(wrapper, path.join(ROOT, 'jupyter', 'tslab-kernel.js'));
  assert.ok(fs.existsSync(wrapper));
  // Without a connection file the wrapper exits with a usage error instead of hanging.
  const r = spawnSync(process.execPath, [wrapper], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing --config-path/);
});

test('Jupyter finds the project-local kernelspec with the lab environment', { skip }, () => {
  const env = { ...process.env, ...jupyterEnv(ROOT) };
  const code =
    'import json; from jupyter_client.kernelspec import KernelSpecManager as K; s=K().get_kernel_spec("tslab-bnn"); print(json.dumps({"dir": s.resource_dir, "argv": s.argv}))';
  const r = spawnSync(python, ['-c', code], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const found = JSON.parse(r.stdout);
  assert.equal(found.dir, path.join(ROOT, 'jupyter', 'kernels', KERNEL_NAME));
  assert.equal(
    path.resolve(found.argv[1].replace('{resource_dir}', found.dir)),
    path.join(ROOT, 'jupyter', 'tslab-kernel.js'),
  );
  // nothing goes to the user's home
  const je = jupyterEnv(ROOT);
  for (const k of ['JUPYTER_DATA_DIR', 'JUPYTER_RUNTIME_DIR', 'JUPYTER_CONFIG_DIR'])
    assert.ok(je[k].startsWith(path.join(ROOT, '.jupyter')), k);
});

test(
  'notebooks execute headless: ok notebook passes and is trusted; failing one names the cell',
  { skip, timeout: 180_000 },
  async () => {
    // Inside the project (served by the lab server below); notebooks/executed/ is git-ignored.
    fs.mkdirSync(path.join(ROOT, 'notebooks', 'executed'), { recursive: true });
    const out = fs.mkdtempSync(path.join(ROOT, 'notebooks', 'executed', 'test-'));
    try {
      const r = await runNotebooks([path.join(FIX, 'ok.ipynb'), path.join(FIX, 'bad.ipynb')], {
        profile: 'smoke',
        outDir: out,
        keepGoing: true,
        quiet: true,
        timeout: 120,
      });
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /^ok +test\/fixtures\/jupyter\/ok\.ipynb/m);
      // the failure names the notebook, the cell (4th cell = 2nd code cell), its source and the error
      assert.match(r.output, /FAIL test\/fixtures\/jupyter\/bad\.ipynb: cell 3 \(code cell 2\) raised an error/);
      assert.match(r.output, /throw new Error\('deliberate failure in fixture'\)/);
      assert.match(r.output, /Error: deliberate failure in fixture/);
      assert.match(r.output, /1 notebook\(s\) failed/);

      const ok = JSON.parse(fs.readFileSync(path.join(out, 'ok.ipynb'), 'utf8'));
      const outputs = ok.cells.filter((c: any) => c.cell_type === 'code').map((c: any) => c.outputs);
      const text = (o: any[]) =>
        o
          .filter((x) => x.output_type === 'stream')
          .map((x) => (Array.isArray(x.text) ? x.text.join('') : x.text))
          .join('');
      // profile passed as BNN_PROFILE; kernel cwd = project root
      assert.equal(text(outputs[0]).trim(), `profile=smoke cwd=${ROOT}`);
      // imports from ./src work (incl. a folder import, ./src/figures), values computed by project code
      assert.match(text(outputs[1]), /^rng=\d+ pi=-9\.000/);
      const display = outputs[1].find((x: any) => x.output_type === 'display_data');
      assert.ok(display, 'showFigure produced a display_data output');
      assert.deepEqual(Object.keys(display.data).sort(), [PLOTLY_MIME, 'text/html', 'text/plain'].sort());
      assert.equal(display.data[PLOTLY_MIME].data[0].x[0], 'bop');
      assert.equal(ok.metadata.bnn.profile, 'smoke');
      assert.ok(
        fs.statSync(path.join(out, 'ok.ipynb')).size < 30_000,
        'executed notebook stays small (no plotly bundle)',
      );

      // a failed notebook's executed copy goes to failed/, never over the last good copy
      assert.equal(fs.existsSync(path.join(out, 'bad.ipynb')), false);
      const bad = JSON.parse(fs.readFileSync(path.join(out, 'failed', 'bad.ipynb'), 'utf8'));
      assert.equal(bad.metadata.bnn.ok, false);
      assert.equal(bad.cells[3].outputs.length, 0, 'cells after the failure do not run');

      // executed copies are signed in the project-local notary database (classic Notebook runs their scripts)
      const env = { ...process.env, ...jupyterEnv(ROOT) };
      const check = spawnSync(
        python,
        [
          '-c',
          'import sys, nbformat; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], as_version=4)))',
          path.join(out, 'ok.ipynb'),
        ],
        { env, encoding: 'utf8' },
      );
      assert.equal(check.stdout.trim(), 'True', check.stderr);

      await checkLabServer(path.relative(ROOT, path.join(out, 'ok.ipynb')));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  },
);

/**
 * `npm run lab -- --ui notebook` serves the kernelspec and the plotly bundle (for the figures' HTML
 * fallback); with Chromium, the executed notebook's figure is drawn in the classic Notebook page.
 */
async function checkLabServer(notebookRel: string): Promise<void> {
  const noNotebook = pythonCheck(python, 'import notebook');
  if (noNotebook) {
    console.log(`# lab server check skipped: ${python} has no classic Notebook (apt-get install jupyter-notebook)`);
    return;
  }
  const server = await startNotebookServer(ROOT);
  const { base, token } = server;
  try {
    const specs = await (await fetch(`${base}/api/kernelspecs?token=${token}`)).json();
    assert.ok(specs.kernelspecs['tslab-bnn'], 'tslab-bnn kernelspec served');
    const lib = await fetch(`${base}/files/${PLOTLY_REL_PATH}?token=${token}`);
    assert.equal(lib.status, 200, 'plotly bundle served from /files/');
    await lib.arrayBuffer();
    if (!findChromium()) return;
    // the executed notebook's figure is drawn in the classic Notebook page, which says "Trusted"
    const [r] = await renderNotebooks([path.join(ROOT, notebookRel)], { server, root: ROOT });
    assert.equal(r.expected, 1);
    assert.equal(r.drawn, 1, `figure not drawn; page errors: ${r.pageErrors.join(' | ')}`);
    assert.ok(r.trusted, 'executed notebook is trusted');
    assert.deepEqual(r.pageErrors, []);
  } finally {
    server.close();
  }
}
