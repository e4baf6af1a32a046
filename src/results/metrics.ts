/**
 * Reading one metric off a history: the per-epoch fields (loss, accuracy, valLoss, valAccuracy) and the test
 * split's score, which the training loop writes once, into the last record's `extra` (testAccuracy, testLoss).
 */
import type { EpochRecord, History } from '../train/history';

export type MetricName = 'accuracy' | 'valAccuracy' | 'testAccuracy' | 'loss' | 'valLoss' | 'testLoss';

/** The value of `metric` in one epoch record (NaN when the record does not hold it). */
export function metricOf(record: EpochRecord, metric: MetricName): number {
  if (metric === 'testAccuracy' || metric === 'testLoss') {
    const v = record.extra?.[metric];
    return typeof v === 'number' ? v : NaN;
  }
  return record[metric];
}

/**
 * The value of `metric` in the last epoch's record: NaN for an empty history, a missing test score or a value
 * that is not finite (never an earlier epoch's value). Pass the history of a complete run (`RunRecord.complete`,
 * verified against its checkpoint) for a number to cite.
 */
export function finalMetric(history: History, metric: MetricName): number {
  if (!history.length) return NaN;
  const v = metricOf(history[history.length - 1], metric);
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}
