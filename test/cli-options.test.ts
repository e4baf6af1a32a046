// Bad options on the real command lines: each error names the option, the value and what is allowed, the command
// exits non-zero, and nothing is written (no results, sweep, figures or notebook folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';

const ROOT = path.resolve(__dirname, '..');

/** Runs `npm run <cli> -- args` as node + tsx (no npm in between); resolves with its exit code and output. */
function run(
  cli: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli', `${cli}.ts`), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test(
  'bad options: named with their value and what is allowed, non-zero exit, nothing written',
  { timeout: 120_000 },
  async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-cli-opts-'));
    const results = path.join(base, 'results');
    const sweeps = path.join(base, 'sweeps');
    const out = path.join(base, 'out');
    const env = { BNN_RESULTS_DIR: results, BNN_SWEEPS_DIR: sweeps, BNN_PROFILE: '' };
    // one real process per command line (the rules themselves: test/cli-args.test.ts, cli-overrides.test.ts, sweep.test.ts)
    const cases: [string, string[], RegExp][] = [
      [
        'figures',
        ['--profile', 'tiny', '--out', out, '--format', 'html'],
        /--profile tiny: allowed: paper, quick, smoke, or the folder of --set runs/,
      ],
      [
        'sweep',
        ['--profile', 'smoke', '--slurm', '--time', '99:99', '--dry-run'],
        /--time 99:99: 99 seconds; allowed: minutes, MM:SS, HH:MM:SS/,
      ],
      [
        'notebooks',
        ['--timeout', '-5', '--out', out],
        /--timeout -5: must be an integer ≥ 1 written in decimal digits \(at most 604800\)/,
      ],
      [
        'experiment',
        ['cifar10-bop', '--profile', 'smoke', '--set', 'imageSize=16'],
        /--set imageSize=16: cifar10-bop \(cifar10, binarynet, bop\) does not read imageSize/,
      ],
    ];
    try {
      // two at a time (each is a node process with tsx)
      const done: Awaited<ReturnType<typeof run>>[] = [];
      for (let i = 0; i < cases.length; i += 2)
        done.push(...(await Promise.all(cases.slice(i, i + 2).map(([cli, args]) => run(cli, args, env)))));
      cases.forEach(([cli, args, re], i) => {
        const r = done[i];
        const what = `npm run ${cli} -- ${args.join(' ')}`;
        assert.ok(r.code !== 0 && r.code !== null, `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);
        assert.match(r.stderr, re, what);
      });
      assert.deepEqual(fs.readdirSync(base), [], 'nothing written');
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  },
);
