/**
 * The registry of the report's figures, read from the catalog (./catalog): every section's `figures` entry names
 * the experiments it draws and what it draws; legend labels are the experiments' `label`s, the summary's published
 * numbers are ./published's. This module only binds that data to the builders of src/figures. `npm run figures`
 * draws an entry from stored results (`buildReportFigure`); a notebook draws the same entry, by name, over its own
 * runs (`sectionFigure`, `entryFigure`; ./notebook `showCatalogFigure(runs, 'fig4-5-dropout')`).
 *
 * An experiment whose config is the same as another's (`sameAs`) is drawn from that one's results folder.
 */
import {
  accuracyCurves,
  flipRatioCurves,
  hyperparameterCurves,
  lossCurves,
  miouCurves,
  type CurveOptions,
} from '../figures/builders';
import { segmentationGrid } from '../figures/segmentation';
import {
  buildFigure,
  loadPredictions,
  type BuildContext,
  type BuiltFigure,
  type LoadedRun,
  type ReportFigure,
  type RunRef,
} from '../figures/build';
import type { Figure, RunSeries } from '../figures/types';
import { experimentEntry, SECTIONS, type FigureEntry, type Section } from './catalog';
import { publishedFigure, publishedTable, type PublishedRun } from './published';

/**
 * The stored-results reference of a catalog experiment: its results folder (its own, or the `sameAs` one's), its
 * legend label, and the colour key of its optimizer ('fp' for a full-precision model).
 */
export function experimentRef(name: string): RunRef {
  const e = experimentEntry(name);
  if (!e) throw new Error(`figure registry: experiment "${name}" is not in the catalog (src/experiments/catalog.ts)`);
  return {
    experiment: e.sameAs ?? e.name,
    label: e.label,
    optimizer: e.paper.binary === false ? 'fp' : e.paper.optimizer,
  };
}

const seriesOf = (runs: LoadedRun[]) => runs.map((r) => r.series);

/** The per-epoch kinds of figure (every kind of a catalog `FigureEntry` but the segmentation grid). */
type CurveKind = Exclude<FigureEntry['kind'], 'segmentation'>;

/** Options of `curvesFigure`: the builders' options, the trace names of accuracy / mIoU, which layers' flips. */
type CurveKindOptions = CurveOptions & { trainName?: string; valName?: string; layers?: 'all' | 'last' | string[] };

/**
 * The figure of one kind over some runs: accuracy or loss curves (train dashed, validation solid, mean over seeds
 * with a min–max band), the flip metric per binary layer (unless `layers` says otherwise: every layer of one run,
 * the last layer of several, as the paper's Fig. 1), the γ /
 * learning-rate schedules, or mean IoU. The one mapping from a kind to its builder, for the registry and the
 * notebooks.
 */
function curvesFigure(kind: CurveKind, series: RunSeries[], opts: CurveKindOptions = {}): Figure {
  const { trainName, valName, layers, ...curve } = opts;
  switch (kind) {
    case 'accuracy':
      return accuracyCurves(series, { ...curve, trainName, valName });
    case 'loss':
      return lossCurves(series, curve);
    case 'flips':
      return flipRatioCurves(series, { ...curve, layers });
    case 'hyperparameters':
      return hyperparameterCurves(series, curve);
    case 'miou':
      return miouCurves(series, { ...curve, valName });
    default:
      throw new Error(`unknown figure kind "${kind as string}" (accuracy, loss, flips, hyperparameters, miou)`);
  }
}

/** The figure a catalog entry of a curve kind draws over some runs' series, with its axis names, titled `title` (default: the entry's). */
export function entryFigure(f: FigureEntry, series: RunSeries[], title = f.title): Figure {
  if (f.kind === 'segmentation')
    throw new Error(`figure "${f.name}" is a segmentation grid: it draws a run's predictions.json, not curves`);
  return curvesFigure(f.kind, series, { title, ...f.axes });
}

/** The builder of a catalog figure entry: what its `kind` draws, with its title and axis names. */
function builderOf(f: FigureEntry): ReportFigure['build'] {
  if (f.kind === 'segmentation')
    return (runs) => {
      const samples = loadPredictions(runs[0].data);
      return segmentationGrid(samples.samples, {
        title: `${f.title} (${runs[0].series.label})`,
        classNames: samples.classNames,
      });
    };
  return (runs) => entryFigure(f, seriesOf(runs));
}

/** A catalog figure entry as a buildable figure: its experiments (default: the section's) as stored-results refs. */
export function figureFromCatalog(section: Section, f: FigureEntry): ReportFigure {
  const names = f.experiments ?? section.experiments;
  if (!names.length) throw new Error(`figure "${f.name}" of ${section.id} draws no experiment`);
  return {
    name: f.name,
    title: f.title,
    description: f.description,
    runs: names.map(experimentRef),
    minRuns: f.minRuns,
    build: builderOf(f),
  };
}

/** A figure of the catalog's sections by name, with its section; throws listing the names. */
export function sectionFigure(name: string): { section: Section; figure: FigureEntry } {
  const all = SECTIONS.flatMap((section) => section.figures.map((figure) => ({ section, figure })));
  const found = all.find((x) => x.figure.name === name);
  if (!found)
    throw new Error(`unknown figure "${name}"; the sections' figures: ${all.map((x) => x.figure.name).join(', ')}`);
  return found;
}

/** Stored runs as the published comparison takes them: the results folder (a catalog experiment's name) and the series. */
const publishedRunsOf = (runs: LoadedRun[]): PublishedRun[] =>
  runs.map((r) => ({ experiment: r.data.experiment, series: r.series }));

/**
 * Every stored run beside its published numbers (./published: the table of the summary notebook, row for row): not
 * one section's, so it is the registry's own entry.
 */
const SUMMARY: ReportFigure = {
  name: 'summary',
  title: 'Final accuracies vs reported',
  description:
    'Final test accuracy, settled (train accuracy against a published train number; mean, min–max over seeds) of every stored run, next to the published numbers.',
  runs: [{ experiment: '*' }],
  build: (runs) => publishedFigure(publishedRunsOf(runs), 'Final accuracy: this reproduction vs reported'),
  table: (runs) => publishedTable(publishedRunsOf(runs)),
};

/** The figures of the report, section by section as the catalog lists them, then the summary. */
export const REPORT_FIGURES: ReportFigure[] = [
  ...SECTIONS.flatMap((s) => s.figures.map((f) => figureFromCatalog(s, f))),
  SUMMARY,
];

/** Looks up a registry entry; throws listing the valid names. */
export function getReportFigure(name: string): ReportFigure {
  const f = REPORT_FIGURES.find((x) => x.name === name);
  if (!f) throw new Error(`unknown figure "${name}"; known figures: ${REPORT_FIGURES.map((x) => x.name).join(', ')}`);
  return f;
}

/** Builds a registry figure from stored results. Returns `{figure: null, missing}` when required runs are absent. */
export function buildReportFigure(name: string, ctx: BuildContext): BuiltFigure {
  return buildFigure(getReportFigure(name), ctx);
}
