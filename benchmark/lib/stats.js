'use strict'
// Medians, spread and ratios.

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

const median = (xs) => quantile(xs, 0.5)

/** { median, min, max, n } of one field over rounds. */
function summarize(rounds, field) {
  const xs = rounds.map((r) => r[field]).filter((v) => typeof v === 'number' && Number.isFinite(v))
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length }
}

module.exports = { quantile, median, summarize }
