//! Timelines as SVG (plotters, SVG backend, as the lab's line charts in `bench/plot.rs`): one
//! lane per thread or actor, bars for what lasted, marks for what happened at an instant. The
//! caption's second line is the provenance, as on the lab's plots, so a diagram cut out of the
//! book still says which run drew it (and `bench::doc::check_svg` accepts it).

use anyhow::anyhow;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::bench::doc::Provenance;

/// One lane of a timeline.
pub struct Lane {
    pub name: String,
    pub bars: Vec<Bar>,
    pub marks: Vec<Mark>,
}

/// Something that lasted, in milliseconds since the recording started; `style` indexes the
/// legend.
#[derive(Clone, Copy)]
pub struct Bar {
    pub from: f64,
    pub to: f64,
    pub style: usize,
}

/// Something that happened at an instant.
pub struct Mark {
    pub at: f64,
    pub label: String,
    /// Drawn as a thin tick (many of them: look-ups) rather than a labelled line.
    pub tick: bool,
}

/// A timeline to draw.
pub struct Timeline<'a> {
    pub title: &'a str,
    pub lanes: Vec<Lane>,
    /// What each bar style means, in style order.
    pub legend: &'a [&'a str],
}

/// Bar colours, by style: running (green), waiting (grey), then four more.
const STYLES: [RGBColor; 6] = [
    RGBColor(44, 160, 44),
    RGBColor(200, 200, 200),
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
];

/// Draws `timeline` as an SVG document.
pub fn svg(timeline: &Timeline, provenance: &Provenance) -> anyhow::Result<String> {
    let lanes = timeline.lanes.len().max(1) as i32;
    let height = 130 + 44 * lanes as u32;
    let end = timeline
        .lanes
        .iter()
        .flat_map(|l| {
            l.bars
                .iter()
                .map(|b| b.to)
                .chain(l.marks.iter().map(|m| m.at))
        })
        .fold(1e-3, f64::max);
    // Room on the right for the legend, so that it covers no bar.
    let end = end
        * if timeline.legend.is_empty() {
            1.06
        } else {
            1.3
        };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, height)).into_drawing_area();
        let body = crate::bench::plot::titled(&root, timeline.title, provenance)?;
        let names: Vec<&str> = timeline.lanes.iter().map(|l| l.name.as_str()).collect();
        let mut ctx = ChartBuilder::on(&body)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(190)
            // A discrete range is inclusive: `0..lanes - 1` has one segment per lane.
            .build_cartesian_2d(0.0..end, (0..lanes - 1).into_segmented())
            .map_err(draw_error)?;
        ctx.configure_mesh()
            .x_desc("milliseconds since the run started")
            .y_labels(lanes as usize)
            .y_label_formatter(&|v: &SegmentValue<i32>| match v {
                // Segment 0 is at the bottom; the first lane is drawn at the top.
                SegmentValue::CenterOf(i) => names
                    .get((lanes - 1 - *i) as usize)
                    .unwrap_or(&"")
                    .to_string(),
                _ => String::new(),
            })
            .disable_y_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_error)?;
        for (i, lane) in timeline.lanes.iter().enumerate() {
            // Lane i is the segment [y, y + 1), the first lane at the top.
            let y = lanes - 1 - i as i32;
            let (y0, y1) = (SegmentValue::Exact(y), SegmentValue::Exact(y + 1));
            ctx.draw_series(merged(&lane.bars).into_iter().map(|bar| {
                let colour = STYLES[bar.style % STYLES.len()];
                // A bar too short to see is drawn a hair wide, so a quick poll still shows.
                let to = bar.to.max(bar.from + end / 800.0);
                Rectangle::new(
                    [(bar.from, y0.clone()), (to, y1.clone())],
                    colour.mix(0.85).filled(),
                )
            }))
            .map_err(draw_error)?;
            for mark in &lane.marks {
                let colour = if mark.tick {
                    RGBColor(90, 90, 90)
                } else {
                    RGBColor(214, 39, 40)
                };
                ctx.draw_series(std::iter::once(PathElement::new(
                    vec![(mark.at, y0.clone()), (mark.at, y1.clone())],
                    colour.stroke_width(if mark.tick { 1 } else { 3 }),
                )))
                .map_err(draw_error)?;
                if !mark.label.is_empty() {
                    ctx.draw_series(std::iter::once(Text::new(
                        mark.label.clone(),
                        (mark.at, SegmentValue::CenterOf(y)),
                        ("sans-serif", 12).into_font().color(&colour),
                    )))
                    .map_err(draw_error)?;
                }
            }
        }
        for (style, what) in timeline.legend.iter().enumerate() {
            if what.is_empty() {
                continue;
            }
            let colour = STYLES[style % STYLES.len()];
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(0))],
                colour.filled(),
            )))
            .map_err(draw_error)?
            .label(*what)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
        }
        if !timeline.legend.is_empty() {
            ctx.configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(200, 200, 200))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a timeline: {e:?}")
}

/// The lane's bars with each run of touching bars of one style drawn as one (a sampled
/// state, or a stage's back-to-back work, would otherwise be thousands of rectangles).
fn merged(bars: &[Bar]) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for bar in bars {
        match out.last_mut() {
            Some(last) if last.style == bar.style && bar.from <= last.to => {
                last.to = last.to.max(bar.to);
            }
            _ => out.push(Bar { ..*bar }),
        }
    }
    out
}

/// Instants as bars: those closer than `gap` milliseconds to the previous one are one bar.
pub fn bars_of(instants: impl IntoIterator<Item = f64>, gap: f64, style: usize) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for at in instants {
        match out.last_mut() {
            Some(last) if at - last.to <= gap => last.to = at,
            _ => out.push(Bar {
                from: at,
                to: at,
                style,
            }),
        }
    }
    out
}

/// Milliseconds, for drawing.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
