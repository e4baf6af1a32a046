/**
 * Runs many experiment runs side by side, each in its own process (`npm run experiment -- … --resume`), `jobs` at a
 * time, with the cores shared out (BNN_THREADS = cores / jobs). On a small CPU two one-thread runs train ≈ 1.7×
 * as many images per second as one two-thread run (wasm's per-kernel thread overhead dominates at small width).
 * A run that fails does not stop the others; each child's lines are printed as they come, prefixed with its tag.
 */
import { spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../util/paths';
import { envThreads } from '../util/env';

export interface RunJob {
  experiment: string;
  profile: string;
  seed: number;
  set?: string[];
  /** Replace finished results (default: resume / reuse). */
  force?: boolean;
}

export interface JobOutcome {
  job: RunJob;
  ok: boolean;
  /** The child's last error line when it failed. */
  error?: string;
  seconds: number;
}

/** The command line of one job (node + tsx + the experiment CLI). */
export function jobArgs(job: RunJob): string[] {
  return [
    '--import',
    'tsx',
    path.join(repoRoot(), 'src', 'cli', 'experiment.ts'),
    job.experiment,
    '--profile',
    job.profile,
    '--seed',
    String(job.seed),
    job.force ? '--force' : '--resume',
    ...(job.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

/** Jobs that fit the machine: one per two cores beyond the first pair is not worth it on wasm; at least 1. */
export function defaultJobs(cores = os.cpus().length): number {
  return Math.max(1, Math.min(2, cores));
}

/** Runs `jobs` and resolves with one outcome per job, in the given order. */
export async function runJobs(
  list: RunJob[],
  opts: { jobs?: number; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<JobOutcome[]> {
  const jobs = Math.max(1, opts.jobs ?? defaultJobs());
  const log = opts.log ?? ((l: string) => console.log(l));
  const threads = Math.max(1, Math.floor(os.cpus().length / jobs));
  const out: JobOutcome[] = new Array(list.length);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      const job = list[i];
      const tag = `[${job.experiment} s${job.seed}]`;
      const t0 = Date.now();
      const env = { ...process.env, ...opts.env, BNN_THREADS: String(envThreads() ?? threads) };
      let lastErr = '';
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, jobArgs(job), {
          cwd: repoRoot(),
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const pipe = (stream: NodeJS.ReadableStream, isErr: boolean) => {
          let buf = '';
          stream.on('data', (d: Buffer) => {
            buf += d.toString();
            let k;
            while ((k = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, k);
              buf = buf.slice(k + 1);
              if (isErr && line.trim()) lastErr = line.trim();
              if (line.trim()) log(`${tag} ${line}`);
            }
          });
          stream.on('end', () => {
            if (buf.trim()) log(`${tag} ${buf}`);
          });
        };
        pipe(child.stdout!, false);
        pipe(child.stderr!, true);
        child.on('close', (c) => resolve(c ?? 1));
        child.on('error', (e) => {
          lastErr = e.message;
          resolve(1);
        });
      });
      out[i] = {
        job,
        ok: code === 0,
        ...(code !== 0 ? { error: lastErr || `exit code ${code}` } : {}),
        seconds: (Date.now() - t0) / 1000,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, list.length) }, worker));
  return out;
}
