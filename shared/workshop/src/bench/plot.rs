//! SVG line charts (plotters, SVG backend only): one line per variant, the provenance as the
//! caption's second line so a plot cut out of the book still says where it came from.

use anyhow::anyhow;
use plotters::prelude::*;

use super::doc::Provenance;

/// One line of a chart: a name and its points (x, y).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A chart to draw.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Logarithmic x axis (concurrency, batch sizes, percentiles as 1 / (1 − q)).
    pub x_log: bool,
    pub y_log: bool,
    pub series: Vec<Series>,
    /// Replaces the x axis' numbers, e.g. `|x| format!("p{}", ...)`.
    pub x_format: Option<&'a dyn Fn(f64) -> String>,
    /// Where the legend goes: a corner the lines stay out of.
    pub legend: Corner,
}

/// A corner of the plot area.
#[derive(Debug, Clone, Copy)]
pub enum Corner {
    UpperLeft,
    LowerLeft,
    LowerRight,
}

/// The colours of the variants, in the canonical order, then extras (a reference line).
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
    RGBColor(255, 127, 14),
];

/// Fills `root` white, writes the title and the provenance line across its top, and returns
/// the area below them: every SVG the lab and the diagrams draw opens this way, so a picture
/// always says where and how it was measured.
pub(crate) fn titled<'a>(
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    title: &str,
    provenance: &Provenance,
) -> anyhow::Result<DrawingArea<SVGBackend<'a>, plotters::coord::Shift>> {
    root.fill(&WHITE).map_err(draw_error)?;
    let (header, body) = root.split_vertically(52);
    header
        .draw(&Text::new(title, (12, 8), ("sans-serif", 20).into_font()))
        .map_err(draw_error)?;
    header
        .draw(&Text::new(
            format!(
                "Measured on {} with `{}`",
                provenance.machine(),
                provenance.command
            ),
            (12, 32),
            ("sans-serif", 11).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(draw_error)?;
    Ok(body)
}

/// Draws `chart` as an SVG document.
pub fn svg(chart: &Chart, provenance: &Provenance) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, 480)).into_drawing_area();
        let body = titled(&root, chart.title, provenance)?;
        let points = chart.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (1.0, 10.0, 1.0, 10.0);
        }
        if !chart.y_log {
            y0 = y0.min(0.0);
        }
        let pad = |lo: f64, hi: f64, log: bool| {
            if log {
                (lo.max(1e-9) / 1.5, hi.max(1e-9) * 1.5)
            } else {
                (lo, hi + (hi - lo).abs().max(1e-9) * 0.08)
            }
        };
        let (x0, x1) = pad(x0, x1, chart.x_log);
        let (y0, y1) = pad(y0, y1, chart.y_log);
        let x_fmt = |x: &f64| match chart.x_format {
            Some(f) => f(*x),
            None => short(*x),
        };
        let y_fmt = |y: &f64| short(*y);
        macro_rules! draw {
            ($xr:expr, $yr:expr) => {{
                let mut ctx = ChartBuilder::on(&body)
                    .margin(12)
                    .x_label_area_size(40)
                    .y_label_area_size(70)
                    .build_cartesian_2d($xr, $yr)
                    .map_err(draw_error)?;
                ctx.configure_mesh()
                    .x_desc(chart.x_label)
                    .y_desc(chart.y_label)
                    .x_label_formatter(&x_fmt)
                    .y_label_formatter(&y_fmt)
                    .light_line_style(RGBColor(235, 235, 235))
                    .draw()
                    .map_err(draw_error)?;
                for (i, series) in chart.series.iter().enumerate() {
                    let colour = PALETTE[i % PALETTE.len()];
                    ctx.draw_series(LineSeries::new(
                        series.points.iter().copied(),
                        colour.stroke_width(2),
                    ))
                    .map_err(draw_error)?
                    .label(series.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                    ctx.draw_series(
                        series
                            .points
                            .iter()
                            .map(|&p| Circle::new(p, 3, colour.filled())),
                    )
                    .map_err(draw_error)?;
                }
                ctx.configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(200, 200, 200))
                    .position(match chart.legend {
                        Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                        Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                        Corner::LowerRight => SeriesLabelPosition::LowerRight,
                    })
                    .draw()
                    .map_err(draw_error)?;
            }};
        }
        match (chart.x_log, chart.y_log) {
            (true, true) => draw!((x0..x1).log_scale(), (y0..y1).log_scale()),
            (true, false) => draw!((x0..x1).log_scale(), y0..y1),
            (false, true) => draw!(x0..x1, (y0..y1).log_scale()),
            (false, false) => draw!(x0..x1, y0..y1),
        }
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a plot: {e:?}")
}

/// Axis numbers: 1500 → "1.5k", 2000000 → "2M", 0.25 → "0.25".
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e3 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.2}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_well_formed_svg_with_its_provenance() {
        let provenance = Provenance::here("cargo run --release -- bench --quick".into());
        let chart = Chart {
            title: "records/s by batch size",
            x_label: "lines per batch",
            y_label: "records/s",
            x_log: true,
            y_log: false,
            series: vec![Series {
                name: "sync".into(),
                points: vec![(1.0, 1e5), (64.0, 1e6), (1024.0, 2e6)],
            }],
            x_format: None,
            legend: Corner::LowerRight,
        };
        let text = svg(&chart, &provenance).unwrap();
        let document = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(document.root_element().tag_name().name(), "svg");
        assert!(text.contains("Measured on"), "{text}");
        assert!(text.contains("sync"));
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2e6), "2M");
    }
}
