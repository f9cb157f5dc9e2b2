//! Whether a report's lines add up: every line read is accepted or rejected, none vanishes,
//! none appears from nowhere. The exercises' checks say which, and by how many, when they do
//! not — worked out without a subtraction that can overflow (a report with more lines out than
//! in would otherwise fail in the checks' own message code, `attempt to subtract with
//! overflow`, instead of saying what is wrong).

use std::fmt;

use pipeline::Report;

/// How `accepted + rejected` compares with `lines_read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineBalance {
    /// Every line read is accounted for.
    Balanced,
    /// Fewer lines came out than went in: this many vanished between stages.
    Vanished(u64),
    /// More lines came out than went in: this many were counted twice or made up.
    Appeared(u64),
}

impl LineBalance {
    pub fn of(lines_read: u64, accepted: u64, rejected: u64) -> LineBalance {
        let accounted = accepted.saturating_add(rejected);
        match accounted.cmp(&lines_read) {
            std::cmp::Ordering::Equal => LineBalance::Balanced,
            std::cmp::Ordering::Less => LineBalance::Vanished(lines_read - accounted),
            std::cmp::Ordering::Greater => LineBalance::Appeared(accounted - lines_read),
        }
    }

    pub fn of_report(report: &Report) -> LineBalance {
        LineBalance::of(report.lines_read(), report.accepted(), report.rejected())
    }
}

impl fmt::Display for LineBalance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineBalance::Balanced => write!(f, "every line accounted for"),
            LineBalance::Vanished(n) => write!(f, "{n} lines vanished"),
            LineBalance::Appeared(n) => write!(f, "{n} lines appeared from nowhere"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LineBalance;

    #[test]
    fn lines_can_vanish_or_appear_and_neither_overflows() {
        assert_eq!(LineBalance::of(10, 7, 3), LineBalance::Balanced);
        assert_eq!(LineBalance::of(10, 5, 3), LineBalance::Vanished(2));
        assert_eq!(LineBalance::of(10, 9, 3), LineBalance::Appeared(2));
        assert_eq!(
            LineBalance::of(0, u64::MAX, 1),
            LineBalance::Appeared(u64::MAX)
        );
        assert_eq!(
            LineBalance::of(u64::MAX, 0, 0),
            LineBalance::Vanished(u64::MAX)
        );
        assert_eq!(LineBalance::Vanished(2).to_string(), "2 lines vanished");
        assert_eq!(
            LineBalance::Appeared(2).to_string(),
            "2 lines appeared from nowhere"
        );
    }
}
