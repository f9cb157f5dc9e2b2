//! Repeats, and what a cell says about them: the median, how far the runs strayed from it (the
//! *spread*), and whether that is too far to lean on (*noisy*). And the order the variants run
//! in: interleaved and shuffled within each repeat, so that a slow minute of the machine (a
//! neighbour's build, a hypervisor's steal) lands on every variant alike instead of on whichever
//! happened to run then — with a fixed seed, so that two runs of the lab use the same order.

/// A cell whose runs strayed further than this from their median (in %) is flagged noisy.
pub const NOISY_PERCENT: f64 = 10.0;

/// The mark after a noisy cell.
pub const NOISY_MARK: &str = "†";

/// What the marks in a table mean, for the text under it.
pub fn legend() -> String {
    format!(
        "±x% after a figure: every run lay within x% of the median shown (no ± for a single \
         run). {NOISY_MARK}: noisy, the runs strayed more than {NOISY_PERCENT:.0}% from their \
         median; do not lean on that cell."
    )
}

/// The runs of one measurement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample(Vec<f64>);

impl Sample {
    pub fn new() -> Sample {
        Sample(Vec::new())
    }

    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    pub fn values(&self) -> &[f64] {
        &self.0
    }

    fn finite(&self) -> Vec<f64> {
        self.0.iter().copied().filter(|v| v.is_finite()).collect()
    }

    /// The median of the finite values (NaN when there is none).
    pub fn median(&self) -> f64 {
        super::doc::median(self.finite())
    }

    /// The smallest finite value (NaN when there is none).
    pub fn min(&self) -> f64 {
        self.finite()
            .into_iter()
            .reduce(f64::min)
            .unwrap_or(f64::NAN)
    }

    /// How far the runs strayed from the median: the largest distance of one run from it, as
    /// a % of it. `None` with fewer than two runs (one run has no spread we could know) or a
    /// median of zero.
    pub fn spread_percent(&self) -> Option<f64> {
        let values = self.finite();
        if values.len() < 2 {
            return None;
        }
        let median = self.median();
        if median == 0.0 {
            return None;
        }
        let furthest = values
            .iter()
            .map(|v| (v - median).abs())
            .fold(0.0, f64::max);
        Some(furthest / median.abs() * 100.0)
    }

    /// Whether the runs strayed more than [`NOISY_PERCENT`] from their median.
    pub fn noisy(&self) -> bool {
        self.spread_percent().is_some_and(|s| s > NOISY_PERCENT)
    }

    /// `text` (the median, formatted by the caller) with the spread and, if noisy, the mark:
    /// "1.23 M/s ±4%", "310 k/s ±14%†".
    pub fn cell(&self, text: &str) -> String {
        match self.spread_percent() {
            None => text.to_string(),
            Some(spread) => format!(
                "{text} ±{spread:.0}%{}",
                if self.noisy() { NOISY_MARK } else { "" }
            ),
        }
    }
}

impl FromIterator<f64> for Sample {
    fn from_iter<I: IntoIterator<Item = f64>>(values: I) -> Sample {
        Sample(values.into_iter().collect())
    }
}

/// The seed every group shuffles with: the same order on every run of the lab.
pub const SEED: u64 = 0x05ee_d1ab;

/// The order of `items` things (0..items) in repeat `repeat`: a Fisher-Yates shuffle driven by
/// a SplitMix64 stream seeded with (`seed`, `repeat`). Every thing appears once per repeat, the
/// order changes from one repeat to the next, and the same seed gives the same orders.
pub fn order(items: usize, repeat: usize, seed: u64) -> Vec<usize> {
    let mut state = seed ^ (repeat as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = move || {
        // SplitMix64 (Steele, Lea, Flood 2014): small, seedable, good enough to shuffle.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..items).collect();
    for i in (1..items).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Every (repeat, item) of `repeats` repeats of `items` things, each repeat in its own
/// shuffled order: the schedule a group runs its variants in.
pub fn schedule(items: usize, repeats: usize, seed: u64) -> Vec<(usize, usize)> {
    (0..repeats)
        .flat_map(|repeat| {
            order(items, repeat, seed)
                .into_iter()
                .map(move |item| (repeat, item))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_the_spread_are_measured_from_the_runs() {
        let sample: Sample = [100.0, 96.0, 104.0].into_iter().collect();
        assert_eq!(sample.median(), 100.0);
        assert_eq!(sample.min(), 96.0);
        assert_eq!(sample.spread_percent(), Some(4.0));
        assert!(!sample.noisy());
        assert_eq!(sample.cell("100/s"), "100/s ±4%");
        // The spread is the furthest run, on either side.
        let lopsided: Sample = [100.0, 99.0, 130.0].into_iter().collect();
        assert_eq!(lopsided.spread_percent(), Some(30.0));
    }

    #[test]
    fn a_cell_is_noisy_only_beyond_ten_percent() {
        let edge: Sample = [100.0, 90.0, 110.0].into_iter().collect();
        assert!(!edge.noisy(), "exactly 10% is not beyond it");
        let noisy: Sample = [100.0, 89.0, 111.0].into_iter().collect();
        assert!(noisy.noisy());
        assert_eq!(noisy.cell("100/s"), format!("100/s ±11%{NOISY_MARK}"));
    }

    #[test]
    fn one_run_has_no_spread_and_is_never_flagged() {
        let one: Sample = [42.0].into_iter().collect();
        assert_eq!(one.spread_percent(), None);
        assert!(!one.noisy());
        assert_eq!(one.cell("42/s"), "42/s");
        // Runs that measured nothing (NaN) are left out, not counted as zero.
        let with_nan: Sample = [f64::NAN, 10.0, 10.0].into_iter().collect();
        assert_eq!(with_nan.median(), 10.0);
        assert_eq!(with_nan.spread_percent(), Some(0.0));
        assert!(Sample::new().median().is_nan());
    }

    #[test]
    fn every_repeat_runs_every_variant_once_in_a_seeded_order() {
        let plan = schedule(4, 3, SEED);
        assert_eq!(plan.len(), 12);
        for repeat in 0..3 {
            let mut seen: Vec<usize> = plan
                .iter()
                .filter(|(r, _)| *r == repeat)
                .map(|(_, v)| *v)
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, [0, 1, 2, 3], "repeat {repeat}");
        }
        // The same seed gives the same schedule; the repeats do not all share one order.
        assert_eq!(plan, schedule(4, 3, SEED));
        let orders: Vec<Vec<usize>> = (0..8).map(|r| order(4, r, SEED)).collect();
        assert!(orders.iter().any(|o| o != &orders[0]), "{orders:?}");
        // Pinned: a change to the shuffle changes every table's run order, so it must be seen.
        let pinned = [[2, 3, 0, 1], [1, 2, 3, 0], [1, 0, 2, 3]];
        for (repeat, expected) in pinned.iter().enumerate() {
            assert_eq!(order(4, repeat, SEED), expected, "repeat {repeat}");
        }
        assert_ne!(order(4, 0, 1), order(4, 0, 2));
    }
}
