//! Seeded, clock-free choices. How long a call takes, whether it hangs, how long a write lasts:
//! each is a pure function of a seed and of what is being decided about (a reading's line, an
//! attempt, a batch's number), hashed with [`mix`] — never of a clock or a shared random state.
//! So the same choices come out in every variant, on every machine, on a real clock or a fake
//! one, and the variants' reports can agree to the byte.

use std::time::Duration;

/// How long a call that hangs takes: for ever, as far as any run or look-up is concerned.
pub const HANG: Duration = Duration::from_secs(3600);

/// SplitMix64's finaliser: a fixed, well-spread function of its input (every output bit depends
/// on every input bit). Written out, so that no dependency's update can change a draw.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Which calls hang: per thousand readings, a seeded `once_per_mille` hang on their first
/// attempt, `twice_per_mille` on their first two, and `always_per_mille` on every attempt;
/// every other call answers.
///
/// Attempts count from 1, as a reader does: attempt 1 is the first call, attempt 2 the first
/// retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMille {
    pub seed: u64,
    pub once_per_mille: u32,
    pub twice_per_mille: u32,
    pub always_per_mille: u32,
}

impl PerMille {
    /// No call ever hangs.
    pub const NONE: PerMille = PerMille {
        seed: 0,
        once_per_mille: 0,
        twice_per_mille: 0,
        always_per_mille: 0,
    };

    /// What [`hung_attempts`](Self::hung_attempts) returns for a reading whose every attempt
    /// hangs.
    pub const EVERY: u32 = u32::MAX;

    /// How many of the reading at `line`'s attempts hang, from the first: 0, 1, 2, or
    /// [`EVERY`](Self::EVERY).
    pub fn hung_attempts(&self, line: u64) -> u32 {
        let draw = (mix(self.seed ^ mix(line)) % 1000) as u32;
        if draw < self.always_per_mille {
            Self::EVERY
        } else if draw < self.always_per_mille + self.twice_per_mille {
            2
        } else if draw < self.always_per_mille + self.twice_per_mille + self.once_per_mille {
            1
        } else {
            0
        }
    }

    /// Whether attempt `attempt` (1 = the first) of the reading at `line` hangs.
    ///
    /// # Panics
    /// On attempt 0: attempts count from 1, and a caller counting from 0 would hang one
    /// attempt too many.
    pub fn hangs(&self, line: u64, attempt: u32) -> bool {
        assert!(attempt >= 1, "attempts count from 1");
        attempt <= self.hung_attempts(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: PerMille = PerMille {
        seed: 7,
        once_per_mille: 12,
        twice_per_mille: 4,
        always_per_mille: 3,
    };

    #[test]
    fn mix_is_splitmix64() {
        // SplitMix64's first output from state 0, and from state 1.
        assert_eq!(mix(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix(0x9e37_79b9_7f4a_7c15), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn the_plan_is_a_pure_function_with_roughly_its_rates() {
        let mut counts = [0u32; 4];
        for line in 1..=100_000u64 {
            let hung = PLAN.hung_attempts(line);
            assert_eq!(hung, PLAN.hung_attempts(line));
            counts[match hung {
                PerMille::EVERY => 3,
                n => n as usize,
            }] += 1;
        }
        // 12‰, 4‰, 3‰ of 100,000, within a generous margin
        assert!((1000..1400).contains(&counts[1]), "{counts:?}");
        assert!((300..500).contains(&counts[2]), "{counts:?}");
        assert!((200..400).contains(&counts[3]), "{counts:?}");
        assert!((1..=1000).all(|line| PerMille::NONE.hung_attempts(line) == 0));
    }

    #[test]
    fn attempts_count_from_one() {
        let line_hanging = |n| (1..).find(|&line| PLAN.hung_attempts(line) == n).unwrap();
        let once = line_hanging(1);
        assert!(PLAN.hangs(once, 1));
        assert!(!PLAN.hangs(once, 2));
        let twice = line_hanging(2);
        assert!(PLAN.hangs(twice, 2));
        assert!(!PLAN.hangs(twice, 3));
        let always = line_hanging(PerMille::EVERY);
        assert!((1..=100).all(|attempt| PLAN.hangs(always, attempt)));
        let never = line_hanging(0);
        assert!(!PLAN.hangs(never, 1));
    }

    #[test]
    #[should_panic(expected = "attempts count from 1")]
    fn attempt_zero_is_a_bug() {
        PLAN.hangs(1, 0);
    }
}
