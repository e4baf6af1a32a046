/**
 * A failing notebook never overwrites the last good executed copy: executed copies are written to a staging
 * folder and moved into place only on success; a failed one goes to failed/ and the message says where.
 * A runner killed mid-run (kill -9) does not leave `npm run notebooks` hanging on its orphaned kernel: the kernel
 * is ended with its process group and the command exits non-zero with a message.
 * Skipped, with the reason, when Jupyter (nbclient) is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { setTimeout as sleep } from 'timers/promises';
import { jupyterPython, processesWithEnv, pythonCheck } from '../src/lab/jupyter';
import { runNotebooks } from '../src/cli/notebooks';

const ROOT = path.resolve(__dirname, '..');
const FIX = path.join(__dirname, 'fixtures', 'jupyter');
const python = jupyterPython();
const noJupyter = pythonCheck(python, 'import nbclient, nbformat, jupyter_client');
const skip = noJupyter ? `${python} has no nbclient/jupyter_client: ${noJupyter.split('\n').pop()}` : false;

test(
  'a failing notebook leaves the previous executed copy and says where the failed one is',
  { skip, timeout: 180_000 },
  async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nb-'));
    const previous = path.join(out, 'bad.ipynb');
    const prevText = JSON.stringify({
      cells: [],
      metadata: { bnn: { ok: true, note: 'last good run' } },
      nbformat: 4,
      nbformat_minor: 5,
    });
    fs.writeFileSync(previous, prevText);
    const r = await runNotebooks([path.join(FIX, 'bad.ipynb')], {
      profile: 'smoke',
      outDir: out,
      quiet: true,
      timeout: 120,
    });
    assert.equal(r.code, 1, r.output);
    assert.equal(fs.readFileSync(previous, 'utf8'), prevText, 'previous executed copy untouched');
    const failed = path.join(out, 'failed', 'bad.ipynb');
    assert.equal(JSON.parse(fs.readFileSync(failed, 'utf8')).metadata.bnn.ok, false);
    assert.match(
      r.output,
      /bad\.ipynb failed: its partly executed copy is .*failed\/bad\.ipynb; the previous executed copy .*bad\.ipynb \(.*\) is kept/,
    );
    assert.deepEqual(fs.readdirSync(out).sort(), ['bad.ipynb', 'failed'], 'no staging folder left');
  },
);

/** Processes whose environment holds `name=value` (Linux /proc), with their command lines. */
function marked(name: string, value: string): { pid: number; cmd: string }[] {
  return processesWithEnv(name, value).flatMap((p) => {
    try {
      return [{ pid: p.pid, cmd: fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0/g, ' ') }];
    } catch {
      return [];
    }
  });
}

test(
  'npm run notebooks: a runner killed with SIGKILL ends its kernel and exits non-zero with a message, in bounded time',
  { skip: skip || (process.platform !== 'linux' ? 'needs /proc' : false), timeout: 120_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nb-kill-'));
    // one cell that would run for ten minutes: the runner is killed while its kernel is up
    const nb = path.join(dir, 'slow.ipynb');
    fs.writeFileSync(
      nb,
      JSON.stringify({
        cells: [
          {
            cell_type: 'code',
            execution_count: null,
            id: 'c1',
            metadata: {},
            outputs: [],
            source: ['await new Promise((r) => setTimeout(r, 600000));'],
          },
        ],
        metadata: { kernelspec: { name: 'tslab-bnn', display_name: 'TypeScript', language: 'typescript' } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    const tag = `kill-${process.pid}-${Date.now()}`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'src/cli/notebooks.ts'),
        nb,
        '--profile',
        'smoke',
        '--out',
        path.join(dir, 'out'),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, BNN_TEST_TAG: tag },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    try {
      // the kernel is up (started by the runner, carrying the tag); kill -9 the runner about 3 s later
      let runner: { pid: number } | undefined;
      for (const t0 = Date.now(); Date.now() - t0 < 60_000; await sleep(200)) {
        const procs = marked('BNN_TEST_TAG', tag);
        runner = procs.find((p) => p.cmd.includes('run_notebooks.py'));
        if (runner && procs.some((p) => p.cmd.includes('tslab-kernel.js'))) break;
        runner = undefined;
      }
      assert.ok(runner, `the runner and its kernel started: ${out}`);
      await sleep(3000);
      process.kill(runner.pid, 'SIGKILL');
      const t0 = Date.now();
      const r = await Promise.race([exited, sleep(30_000, null, { ref: false })]);
      assert.ok(r, `npm run notebooks still running 30 s after its runner was killed: ${out}`);
      assert.ok(Date.now() - t0 < 30_000);
      assert.notEqual(r.code, 0, out);
      assert.equal(r.code, 128 + 9, out);
      assert.match(
        out,
        /the notebook runner \(python3? run_notebooks\.py, pid \d+\) was killed by SIGKILL; ended the kernel it left running \(pid \d+, process group \d+\)/,
      );
      // nothing of the run is left: no kernel, no staging folder
      await sleep(200);
      assert.deepEqual(
        marked('BNN_TEST_TAG', tag).map((p) => p.cmd),
        [],
        'no process of the run is left',
      );
      assert.deepEqual(fs.readdirSync(path.join(dir, 'out')), [], 'no staging folder left');
    } finally {
      // end only what this test started (found by its tag), whatever happened above
      for (const p of marked('BNN_TEST_TAG', tag)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
