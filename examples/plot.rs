//! Renders CSV time series as SVG line charts, without dependencies.
//!
//! ```text
//! cargo run --example plot -- docs/fleet-start.csv docs/fleet-start.svg
//! cargo run --example plot -- --title "Cold start" --y-label "arrivals per second" a.csv b.csv
//! ```
//!
//! Input: a header row, then one row per x value; the first column is x (e.g. seconds), every
//! further column is one series (e.g. `no jitter`, `jitter 0.5-1.5`). Empty or non-numeric
//! cells leave a gap in their line; lines starting with `#` are skipped. Each CSV gives one SVG:
//! the path that follows it when it ends in `.svg`, else the CSV's path with `.svg`.
//!
//! Spikes are what fleet charts are about, so a series with more points than the chart has
//! pixels is thinned per pixel column to its first, lowest, highest and last point: every peak
//! survives. The legend gives each series' peak and mean. The output is deterministic, so a
//! committed chart changes only when its data does.
//!
//! Tests: `cargo test --example plot`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

/// Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// Chart options (command-line flags).
#[derive(Debug, Clone)]
struct Options {
    title: Option<String>,
    x_label: Option<String>,
    y_label: Option<String>,
    width: u32,
    height: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: None,
            x_label: None,
            y_label: None,
            width: 960,
            height: 420,
        }
    }
}

/// A parsed CSV: x values and named series of the same length (NaN = no value).
#[derive(Debug, Clone, PartialEq)]
struct Data {
    x_name: String,
    xs: Vec<f64>,
    series: Vec<(String, Vec<f64>)>,
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plot: {e}");
            eprintln!(
                "usage: plot [--title T] [--x-label X] [--y-label Y] [--width W] [--height H] IN.csv [OUT.svg] [IN2.csv [OUT2.svg]] ..."
            );
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), Error> {
    let mut options = Options::default();
    let mut jobs: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--title" => options.title = Some(value("--title")?),
            "--x-label" => options.x_label = Some(value("--x-label")?),
            "--y-label" => options.y_label = Some(value("--y-label")?),
            "--width" => options.width = parse_size(&value("--width")?)?,
            "--height" => options.height = parse_size(&value("--height")?)?,
            "-h" | "--help" => return Err("help".into()),
            path if path.ends_with(".svg") => match jobs.last_mut() {
                Some((_, out @ None)) => *out = Some(PathBuf::from(path)),
                _ => return Err(format!("{path}: an output must follow its CSV").into()),
            },
            path => jobs.push((PathBuf::from(path), None)),
        }
    }
    if jobs.is_empty() {
        return Err("no CSV file given".into());
    }
    for (input, output) in jobs {
        let output = output.unwrap_or_else(|| input.with_extension("svg"));
        let text = std::fs::read_to_string(&input)
            .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
        let data = parse_csv(&text).map_err(|e| format!("{}: {e}", input.display()))?;
        let mut chart_options = options.clone();
        if chart_options.title.is_none() {
            chart_options.title = Some(title_from_path(&input));
        }
        let svg = render(&data, &chart_options);
        std::fs::write(&output, svg)
            .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
        println!(
            "{} -> {} ({} points, {} series)",
            input.display(),
            output.display(),
            data.xs.len(),
            data.series.len()
        );
    }
    Ok(())
}

fn parse_size(v: &str) -> Result<u32, Error> {
    match v.parse::<u32>() {
        Ok(n) if (200..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("{v:?} is not a size in pixels between 200 and 10000").into()),
    }
}

fn title_from_path(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_default()
}

/// Splits one CSV line; double-quoted fields may hold commas and `""` escapes.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_owned()),
            _ => field.push(c),
        }
    }
    fields.push(field.trim().to_owned());
    fields
}

fn parse_csv(text: &str) -> Result<Data, Error> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header = split_csv_line(lines.next().ok_or("the file is empty")?);
    let Some((x_name, names)) = header.split_first() else {
        return Err("the header row is empty".into());
    };
    if names.is_empty() {
        return Err("the header names no series (x, then one column per series)".into());
    }
    let mut xs = Vec::new();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for (i, line) in lines.enumerate() {
        let cells = split_csv_line(line);
        let Some(Ok(x)) = cells.first().map(|c| c.parse::<f64>()) else {
            return Err(format!("data row {}: the first column is not a number", i + 1).into());
        };
        if !x.is_finite() {
            return Err(format!("data row {}: x is not finite", i + 1).into());
        }
        xs.push(x);
        for (j, column) in columns.iter_mut().enumerate() {
            let y = cells
                .get(j + 1)
                .and_then(|c| c.parse::<f64>().ok())
                .filter(|y| y.is_finite())
                .unwrap_or(f64::NAN);
            column.push(y);
        }
    }
    if xs.is_empty() {
        return Err("no data rows".into());
    }
    Ok(Data {
        x_name: x_name.clone(),
        xs,
        series: names.iter().cloned().zip(columns).collect(),
    })
}

/// Round tick positions covering `[lo, hi]`: steps of 1, 2 or 5 x 10^k, about `target` of them.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || target == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / target as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut i = 0.0;
    while first + i * step <= hi + step * 1e-9 && ticks.len() < 100 {
        ticks.push(first + i * step);
        i += 1.0;
    }
    ticks
}

/// A tick label: integers without decimals, others with as few as needed.
fn label(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A summary number: about three significant digits.
fn short(v: f64) -> String {
    let digits = match v.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    label((v * 10f64.powi(digits)).round() / 10f64.powi(digits))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Thins a run of screen points to at most four per pixel column (first, lowest, highest,
/// last, in x order), so that no peak or trough is lost.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(4096));
    let mut i = 0;
    while i < points.len() {
        let column = points[i].0.floor();
        let mut j = i;
        while j < points.len() && points[j].0.floor() == column {
            j += 1;
        }
        let bucket = &points[i..j];
        if bucket.len() <= 4 {
            out.extend_from_slice(bucket);
        } else {
            // Screen y grows downwards: the highest value has the smallest y.
            let mut picks = [0, 0, 0, bucket.len() - 1];
            for (k, p) in bucket.iter().enumerate() {
                if p.1 > bucket[picks[1]].1 {
                    picks[1] = k;
                }
                if p.1 < bucket[picks[2]].1 {
                    picks[2] = k;
                }
            }
            let mut picks = picks.to_vec();
            picks.sort_unstable();
            picks.dedup();
            out.extend(picks.into_iter().map(|k| bucket[k]));
        }
        i = j;
    }
    out
}

fn stats(values: &[f64]) -> Option<(f64, f64)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let peak = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    Some((peak, mean))
}

fn render(data: &Data, options: &Options) -> String {
    let (w, h) = (f64::from(options.width), f64::from(options.height));
    let legend_rows = data.series.len() as f64;
    let (left, right, top) = (70.0, 20.0, 40.0);
    let bottom = 50.0 + 18.0 * legend_rows;
    let (pw, ph) = ((w - left - right).max(10.0), (h - top - bottom).max(10.0));

    let x_lo = data.xs.iter().copied().fold(f64::INFINITY, f64::min);
    let x_hi = data.xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x_lo, x_hi) = if x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (x_lo - 1.0, x_lo + 1.0)
    };
    let all_y = data.series.iter().flat_map(|(_, ys)| ys.iter().copied());
    let (y_min, y_max) = all_y
        .filter(|y| y.is_finite())
        .fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let y_lo = y_min;
    let y_hi = if y_max > y_lo { y_max } else { y_lo + 1.0 };
    let mut y_ticks = nice_ticks(y_lo, y_hi, 6);
    // End the axis on a round tick at or above the highest value.
    if let [.., a, b] = y_ticks[..] {
        if b < y_hi {
            y_ticks.push(b + (b - a));
        }
    }
    let y_hi = y_ticks
        .last()
        .copied()
        .filter(|t| *t >= y_hi)
        .unwrap_or(y_hi);
    let x_ticks = nice_ticks(x_lo, x_hi, 10);
    let sx = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * pw;
    let sy = |y: f64| top + ph - (y - y_lo) / (y_hi - y_lo) * ph;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    if let Some(title) = &options.title {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            w / 2.0,
            escape(title)
        );
    }
    // Grid and axes.
    for t in &y_ticks {
        let y = sy(*t);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            label(*t)
        );
    }
    for t in &x_ticks {
        let x = sx(*t);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + 16.0,
            label(*t)
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#333333"/>"##
    );
    let x_label = options.x_label.as_deref().unwrap_or(&data.x_name);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        top + ph + 34.0,
        escape(x_label)
    );
    if let Some(y_label) = &options.y_label {
        let (x, y) = (16.0, top + ph / 2.0);
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{y:.1}" text-anchor="middle" transform="rotate(-90 {x} {y:.1})">{}</text>"#,
            escape(y_label)
        );
    }
    // Lines: one polyline per run of values (a gap breaks the line). The first series, usually
    // the one the chart is about, is drawn last so that it stays on top.
    for (i, (name, ys)) in data.series.iter().enumerate().rev() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, svg: &mut String| {
            if run.is_empty() {
                return;
            }
            let mut points = String::new();
            for (x, y) in thin(run) {
                let _ = write!(points, "{x:.1},{y:.1} ");
            }
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" stroke-linejoin="round" points="{}"><title>{}</title></polyline>"#,
                points.trim_end(),
                escape(name)
            );
            run.clear();
        };
        for (x, y) in data.xs.iter().zip(ys) {
            if y.is_finite() {
                run.push((sx(*x), sy(*y)));
            } else {
                flush(&mut run, &mut svg);
            }
        }
        flush(&mut run, &mut svg);
    }
    // Legend, under the x label: name, peak and mean.
    for (i, (name, ys)) in data.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let y = top + ph + 52.0 + 18.0 * i as f64;
        let summary = match stats(ys) {
            Some((peak, mean)) => format!("peak {}, mean {}", short(peak), short(mean)),
            None => "no values".into(),
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{} ({})</text>"#,
            y - 4.0,
            left + 24.0,
            y - 4.0,
            left + 30.0,
            y,
            escape(name),
            summary
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_and_series_with_gaps() {
        let data = parse_csv(
            "# comment\nsecond,no jitter,\"jitter 0.5-1.5, uniform\"\n0,10,\n1,0,3\r\n2,x,4\n",
        )
        .unwrap();
        assert_eq!(data.x_name, "second");
        assert_eq!(data.xs, [0.0, 1.0, 2.0]);
        assert_eq!(data.series.len(), 2);
        assert_eq!(data.series[1].0, "jitter 0.5-1.5, uniform");
        assert_eq!(data.series[0].1[..2], [10.0, 0.0]);
        assert!(data.series[0].1[2].is_nan());
        assert!(data.series[1].1[0].is_nan());
    }

    #[test]
    fn rejects_what_cannot_be_plotted() {
        for bad in ["", "x\n1\n", "x,a\n", "x,a\nfoo,1\n", "x,a\ninf,1\n"] {
            assert!(parse_csv(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 100.0, 5),
            [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(0.0, 7.0, 6), [0.0, 2.0, 4.0, 6.0]);
        let t = nice_ticks(0.0, 0.3, 3);
        assert!(t.len() >= 3 && t[1] > 0.0 && t[1] < 0.2);
        assert_eq!(nice_ticks(5.0, 5.0, 4), [5.0]);
        assert_eq!(label(20.0), "20");
        assert_eq!(label(0.25), "0.25");
    }

    #[test]
    fn thinning_keeps_every_peak() {
        // 10,000 points over 100 pixel columns, with one spike.
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64 / 100.0, 300.0)).collect();
        points[4321].1 = 5.0;
        let thinned = thin(&points);
        assert!(thinned.len() <= 400, "{}", thinned.len());
        assert!(thinned.contains(&points[4321]));
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0), "x order kept");
    }

    #[test]
    fn svg_is_escaped_and_complete() {
        let data = parse_csv("t,a<b & c\n0,1\n1,2\n2,\n3,1\n").unwrap();
        let svg = render(
            &data,
            &Options {
                title: Some("\"fleet\" <start>".into()),
                ..Options::default()
            },
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a&lt;b &amp; c"));
        assert!(svg.contains("&quot;fleet&quot; &lt;start&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // The gap at t=2 splits the series into two lines.
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("peak 2, mean 1.33"));
    }
}
