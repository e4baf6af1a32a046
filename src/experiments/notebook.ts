/**
 * What the notebooks call, so that a section notebook reads like the report's section: its claims, a config
 * cell, the runs, the figures, the report's numbers beside this run's, the verdicts — each a one-line call here.
 * Every computation on results and every decision (which runs, which data is missing, what a difference is) is in
 * the modules of ./notebook/, one concern each, tested in test/notebook-helpers.test.ts; test/notebooks.test.ts
 * keeps it out of the cells. This entry re-exports them, so that a cell imports from one path:
 *
 *   const { PROFILE, EXPERIMENTS } = notebookConfig(SECTION, { seeds: SEEDS, overrides: OVERRIDES });
 *   await notebookSetup({ profile: PROFILE, experiments: EXPERIMENTS, seeds: SEEDS, set: OVERRIDES });
 *   showMarkdown(sectionIntro(SECTION, PROFILE));
 *   const runs = await runSection(EXPERIMENTS, { profile: PROFILE, seeds: SEEDS, set: OVERRIDES });
 *   showCatalogFigure(runs, 'fig1-baseline-vs-bop');
 *   showComparison(runs, PROFILE);
 *   console.log(sectionFindings(SECTION, runs, PROFILE));
 *   showMarkdown(sectionVerdictMarkdown(SECTION, runs, PROFILE));
 *
 *   config     the profile, the section's experiments, the backend and the exact configs (config and set-up cells)
 *   data       which data files a section lacks and how to fetch them
 *   section    the runs of a section, trained or reused in the kernel (`SectionRun`)
 *   intro      the section's claims, runs, published numbers and derivation
 *   scale      the profile's sizes, γ·T per phase, the runs' regime and flips per γ phase
 *   plots      the catalog's figures by name, the comparison with the published numbers, the runs described, the
 *              live chart
 *   findings   the numbers each section's text talks about
 *   verdicts   the claims judged on the notebook's runs
 *   sections   §4.2's dropout mechanism, §4.5's UNet sizes and predictions
 *   grid       notebook 08's calibration grids
 *   summary    the summary notebook: its experiments, table, figure, gaps and the inference engines
 */
export * from './notebook/config';
export * from './notebook/data';
export * from './notebook/section';
export * from './notebook/intro';
export * from './notebook/scale';
export * from './notebook/plots';
export * from './notebook/findings';
export * from './notebook/verdicts';
export * from './notebook/sections';
export * from './notebook/grid';
export * from './notebook/summary';
