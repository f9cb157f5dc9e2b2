//! A window and a rejection as the typed values of their query parameters.
//!
//! A window's row holds its summary (what a reader of the table wants) and its whole
//! [`Aggregator`] as JSON text (what the pipeline needs to go on adding to it, or to merge it
//! exactly with other parts of the same window). JSON *text*, not `jsonb`: jsonb stores numbers
//! as `numeric`, which loses `-0.0`, and the state must read back bit for bit.

use pipeline::{Aggregator, Rejection};

/// One window's row: the summary of the records in `state`, and `state` itself.
///
/// Chapter 9 writes a whole window so far; chapter 13 writes a *partial* one (one batch's
/// records of that window), whose `mean` and `p95` are the partial's and so are not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub sensor_id: String,
    pub window_start: i64,
    pub site: String,
    pub count: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub p95: f64,
    /// The window's [`Aggregator`], as JSON.
    pub state: String,
}

impl WindowRow {
    /// The row of one window's aggregator (one sensor's minute, with at least one record).
    pub fn of(window: Aggregator) -> WindowRow {
        let state = serde_json::to_string(&window).expect("an aggregator serializes");
        let (mut summaries, _) = window.finish();
        let summary = summaries.pop().expect("a window's row has a record");
        WindowRow {
            sensor_id: summary.sensor_id,
            window_start: summary.window_start,
            site: summary.site,
            count: summary.count as i64,
            min: summary.min,
            max: summary.max,
            mean: summary.mean,
            p95: summary.p95,
            state,
        }
    }

    /// `s-0001 at 1700000040`, for messages.
    pub fn name(&self) -> String {
        format!("{} at {}", self.sensor_id, self.window_start)
    }

    /// The window's aggregator back from its row.
    pub fn read_state(json: &str) -> Result<Aggregator, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// One rejected line's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionRow {
    pub line: i64,
    /// Which field was wrong (`record` for the whole line).
    pub field: String,
    /// The reason's kind (`wrong field count`, `bad timestamp`, ...), for `GROUP BY`.
    pub reason: String,
    /// The whole [`Rejection`], as JSON, so the report can quote it.
    pub rejection: String,
}

impl RejectionRow {
    pub fn of(rejection: &Rejection) -> RejectionRow {
        RejectionRow {
            line: rejection.line as i64,
            field: rejection.field.to_string(),
            reason: rejection.reason.kind().to_owned(),
            rejection: serde_json::to_string(rejection).expect("a rejection serializes"),
        }
    }

    /// The rejection back from its row.
    pub fn read(json: &str) -> Result<Rejection, serde_json::Error> {
        serde_json::from_str(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{FleetRegistry, Input, enrich_batch, parse_batch};

    fn records(text: &str) -> Vec<pipeline::Enriched> {
        let input = Input::from_text("t", text);
        let lines = input.batches(100).next().unwrap();
        enrich_batch(&FleetRegistry::default(), parse_batch(lines))
    }

    #[test]
    fn a_window_s_row_summarizes_its_state_and_the_state_reads_back_exactly() {
        let mut window = Aggregator::new();
        for record in records("s-0001,61,1.0\ns-0001,62,4.0\ns-0001,119,2.0\n") {
            window.add(record);
        }
        let row = WindowRow::of(window.clone());
        let (summaries, _) = window.finish();
        let summary = &summaries[0];
        assert_eq!(
            (row.sensor_id.as_str(), row.window_start, row.count),
            ("s-0001", 60, 3)
        );
        assert_eq!(
            (row.site.as_str(), row.min, row.max, row.mean, row.p95),
            (
                summary.site.as_str(),
                summary.min,
                summary.max,
                summary.mean,
                summary.p95
            )
        );
        assert_eq!(row.name(), "s-0001 at 60");
        let back = WindowRow::read_state(&row.state).unwrap();
        assert_eq!(WindowRow::of(back), row);
    }

    #[test]
    fn a_rejection_s_row_keeps_its_field_reason_and_whole_text() {
        let rejected: Vec<Rejection> = records("s-0001,60,1.0\nbad\n")
            .into_iter()
            .filter_map(Result::err)
            .collect();
        let row = RejectionRow::of(&rejected[0]);
        assert_eq!(row.line, 2);
        assert_eq!(row.field, rejected[0].field.to_string());
        assert_eq!(row.reason, "wrong field count");
        assert_eq!(RejectionRow::read(&row.rejection).unwrap(), rejected[0]);
    }
}
