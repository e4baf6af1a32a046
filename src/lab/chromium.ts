/**
 * Headless Chromium, driven by playwright-core: finding the binary and launching it quietly and offline. Used
 * to export figures (./export) and to open executed notebooks (./render).
 *
 * Chromium: env BNN_CHROMIUM, else /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome.
 */
import * as fs from 'fs';
import type { Browser } from 'playwright-core';
import { envChromium } from '../util/env';

/** Flags for a quiet, offline headless Chromium. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

export const CHROMIUM_HELP =
  'Headless Chromium is needed to export figures. Install it with `sudo apt-get install chromium` (Debian/Ubuntu) ' +
  'or point BNN_CHROMIUM at a Chrome/Chromium binary (e.g. BNN_CHROMIUM=/usr/bin/google-chrome npm run figures). ' +
  'The figures can still be viewed interactively in the notebooks without it.';

/** Path of the Chromium binary, or null when none is found. */
export function findChromium(): string | null {
  const exe = envChromium();
  if (exe) return fs.existsSync(exe) ? exe : null;
  return CANDIDATES.find((c) => fs.existsSync(c)) ?? null;
}

/**
 * Launches headless Chromium (`executablePath`, else `findChromium()`) with CHROMIUM_ARGS. Throws an Error
 * with install instructions when it is missing. playwright-core is loaded only here.
 */
export async function launchChromium(opts: { executablePath?: string } = {}): Promise<Browser> {
  const exe = opts.executablePath ?? findChromium();
  if (!exe || !fs.existsSync(exe)) throw new Error(`Chromium not found${exe ? ` at ${exe}` : ''}. ${CHROMIUM_HELP}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a browser is launched
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  return chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS });
}
