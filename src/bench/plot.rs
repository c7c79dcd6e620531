//! `mqbench --plot`: a run's per-second figures as an SVG. Two panels share the time axis:
//! messages per second on top, latency percentiles below on a log scale (a p50 of a fraction
//! of a millisecond and a stall of seconds fit in one panel). It is a few polylines and
//! labels written by hand, so no plotting crate and its dependency tree.

use std::fmt::Write;

/// One second of a run, as the progress line measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Second {
    /// Seconds since the run started, at the end of this second.
    pub t_s: f64,
    pub msgs: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

const W: f64 = 900.0;
const H: f64 = 620.0;
/// The plot area of both panels spans X0..X1; the legend sits right of it.
const X0: f64 = 80.0;
const X1: f64 = 740.0;
/// (top, bottom) of each panel's plot area.
const RATE_Y: (f64, f64) = (50.0, 270.0);
const LATENCY_Y: (f64, f64) = (320.0, 560.0);
const RATE_COLOUR: &str = "#444444";

type Series = (&'static str, &'static str, fn(&Second) -> f64);
const LATENCIES: [Series; 4] = [
    ("p50", "#2ca02c", |s| s.p50_ms),
    ("p99", "#1f77b4", |s| s.p99_ms),
    ("p99.9", "#ff7f0e", |s| s.p999_ms),
    ("max", "#d62728", |s| s.max_ms),
];

/// The whole SVG document. Any input is drawn inside the panels: non-finite values and
/// zero latencies (no log) go to the panel's bottom edge.
pub fn render(title: &str, seconds: &[Second]) -> String {
    let mut svg = String::with_capacity(4096 + seconds.len() * 100);
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="26" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    if seconds.is_empty() {
        text(
            &mut svg,
            (X0 + X1) / 2.0,
            160.0,
            "middle",
            "no samples: the run was shorter than a second",
        );
    }

    let t = linear_ticks(seconds.iter().map(|s| s.t_s).fold(1.0, f64::max));
    let t_end = t.last().copied().unwrap_or(1.0);
    let x = |v: f64| scale(v, 0.0, t_end, X0, X1);
    let x_ticks: Vec<_> = t.iter().map(|&v| (x(v), label(v, t_end))).collect();

    let r = linear_ticks(seconds.iter().map(|s| s.msgs).fold(1.0, f64::max));
    let r_end = r.last().copied().unwrap_or(1.0);
    let rate_y = |v: f64| scale(v, 0.0, r_end, RATE_Y.1, RATE_Y.0);
    let rate_ticks: Vec<_> = r.iter().map(|&v| (rate_y(v), label(v, r_end))).collect();
    panel(&mut svg, RATE_Y, &rate_ticks, &x_ticks, "messages / s");
    polyline(
        &mut svg,
        RATE_COLOUR,
        seconds.iter().map(|s| (x(s.t_s), rate_y(s.msgs))),
    );
    legend(&mut svg, RATE_Y.0, 0, RATE_COLOUR, "msg/s");

    let all = seconds.iter().flat_map(|s| LATENCIES.map(|(_, _, f)| f(s)));
    let (lo, hi) = decades(all);
    let lat_y = |v: f64| {
        scale(
            v.log10(),
            f64::from(lo),
            f64::from(hi),
            LATENCY_Y.1,
            LATENCY_Y.0,
        )
    };
    let lat_ticks: Vec<_> = (lo..=hi)
        .map(|e| {
            let decimals = usize::try_from(-e).unwrap_or(0);
            (
                lat_y(10f64.powi(e)),
                format!("{:.*}", decimals, 10f64.powi(e)),
            )
        })
        .collect();
    panel(
        &mut svg,
        LATENCY_Y,
        &lat_ticks,
        &x_ticks,
        "latency, ms (log)",
    );
    for (i, (name, colour, f)) in LATENCIES.iter().enumerate() {
        polyline(
            &mut svg,
            colour,
            seconds.iter().map(|s| (x(s.t_s), lat_y(f(s)))),
        );
        legend(&mut svg, LATENCY_Y.0, i, colour, name);
    }
    text(
        &mut svg,
        (X0 + X1) / 2.0,
        LATENCY_Y.1 + 40.0,
        "middle",
        "time, s",
    );
    svg.push_str("</svg>\n");
    svg
}

/// Maps `v` in lo..hi to from..to, clamped: nothing leaves the panel, and a value that is
/// not finite lands on `from`.
fn scale(v: f64, lo: f64, hi: f64, from: f64, to: f64) -> f64 {
    let f = if v.is_finite() && hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    from + f * (to - from)
}

/// 0, step, 2 step, ... up to the first tick at or above `max`: about five steps of 1, 2 or
/// 5 times a power of ten. A value a hair past a tick (a run's 15.0003 s) ends the axis at
/// that tick, and is drawn on the edge.
fn linear_ticks(max: f64) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    let n = (max / step - 0.01).ceil().clamp(1.0, 10.0) as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// A tick label: k or M past ten thousand, and no more decimals than the axis needs.
fn label(v: f64, end: f64) -> String {
    let (div, suffix) = match end {
        e if e >= 1e7 => (1e6, "M"),
        e if e >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let decimals = if end / div >= 5.0 { 0 } else { 1 };
    format!("{:.*}{suffix}", decimals, v / div)
}

/// Powers of ten bounding the positive latencies, kept within 1 µs .. 1000 s (the
/// histogram's range of interest) so that odd input cannot draw hundreds of gridlines.
fn decades(values: impl Iterator<Item = f64>) -> (i32, i32) {
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        (lo, hi) = (lo.min(v), hi.max(v));
    }
    if !lo.is_finite() {
        return (-1, 1);
    }
    let lo = (lo.log10().floor() as i32).clamp(-3, 5);
    (lo, (hi.log10().ceil() as i32).clamp(lo + 1, 6))
}

/// Frame, horizontal gridlines with their labels, time ticks and the y axis title.
fn panel(
    svg: &mut String,
    (top, bottom): (f64, f64),
    y: &[(f64, String)],
    x: &[(f64, String)],
    title: &str,
) {
    for (py, l) in y {
        let _ = writeln!(
            svg,
            r##"<line x1="{X0}" y1="{py:.1}" x2="{X1}" y2="{py:.1}" stroke="#dddddd"/>"##
        );
        text(svg, X0 - 6.0, py + 4.0, "end", l);
    }
    for (px, l) in x {
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{bottom}" x2="{px:.1}" y2="{:.1}" stroke="#000000"/>"##,
            bottom + 5.0
        );
        text(svg, *px, bottom + 18.0, "middle", l);
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{X0}" y="{top}" width="{}" height="{}" fill="none" stroke="#000000"/>"##,
        X1 - X0,
        bottom - top
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(24 {:.1}) rotate(-90)" text-anchor="middle">{title}</text>"#,
        (top + bottom) / 2.0
    );
}

fn polyline(svg: &mut String, colour: &str, points: impl Iterator<Item = (f64, f64)>) {
    let _ = write!(
        svg,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points=""#
    );
    for (i, (x, y)) in points.enumerate() {
        let _ = write!(svg, "{}{x:.1},{y:.1}", if i == 0 { "" } else { " " });
    }
    svg.push_str("\"/>\n");
}

/// Entry `row` of a panel's legend, right of the plot area.
fn legend(svg: &mut String, top: f64, row: usize, colour: &str, name: &str) {
    let y = top + 12.0 + 18.0 * row as f64;
    let _ = writeln!(
        svg,
        r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="2"/>"#,
        X1 + 15.0,
        X1 + 40.0
    );
    text(svg, X1 + 46.0, y + 4.0, "start", name);
}

fn text(svg: &mut String, x: f64, y: f64, anchor: &str, s: &str) {
    let _ = writeln!(
        svg,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}">{s}</text>"#
    );
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn second(t: f64, msgs: f64, p50: f64, max: f64) -> Second {
        Second {
            t_s: t,
            msgs,
            p50_ms: p50,
            p99_ms: p50 * 3.0,
            p999_ms: p50 * 5.0,
            max_ms: max,
        }
    }

    /// The `points` attribute of every polyline, as (x, y) pairs.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline ")
            .skip(1)
            .map(|p| {
                let list = p
                    .split("points=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                list.split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    /// Every number in an x, y, x1, y1, x2 or y2 attribute, with whether it is an x.
    fn coordinates(svg: &str) -> Vec<(bool, f64)> {
        let mut out = Vec::new();
        for attr in ["x", "x1", "x2", "y", "y1", "y2"] {
            for rest in svg.split(&format!(" {attr}=\"")).skip(1) {
                let v = rest.split('"').next().unwrap().parse().unwrap();
                out.push((attr.starts_with('x'), v));
            }
        }
        out
    }

    fn assert_well_formed(svg: &str, samples: usize) {
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        for bad in ["NaN", "inf"] {
            assert!(!svg.contains(bad), "{bad} in {svg}");
        }
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        let lines = polylines(svg);
        assert_eq!(lines.len(), 1 + LATENCIES.len(), "msg/s and four latencies");
        for l in lines {
            assert_eq!(l.len(), samples);
        }
        for name in ["msg/s", "p50", "p99", "p99.9", "max"] {
            assert!(svg.contains(&format!(">{name}</text>")), "legend {name}");
        }
    }

    #[test]
    fn one_polyline_per_series_and_no_nan_for_empty_or_zero_runs() {
        let run: Vec<_> = (1..=30)
            .map(|t| second(f64::from(t), 40_000.0 + f64::from(t), 0.4, 25.0))
            .collect();
        let svg = render("mqbench produce: <Bench> & co, 1024 B", &run);
        assert_well_formed(&svg, 30);
        assert!(svg.contains("&lt;Bench&gt; &amp; co"));

        assert_well_formed(&render("empty", &[]), 0);
        let zeros = [second(1.0, 0.0, 0.0, 0.0), second(2.0, 0.0, 0.0, 0.0)];
        assert_well_formed(&render("zeros", &zeros), 2);
    }

    #[test]
    fn every_coordinate_is_inside_the_view_box_and_its_panel() {
        let run = [
            second(1.0, 5.0, 0.001, 0.002),
            second(2.0, 2_000_000.0, 0.0, 9_000_000.0),
            second(3.0, f64::NAN, f64::INFINITY, -1.0),
            second(300.0, 1e300, 1e-300, 12.0),
        ];
        let svg = render("extremes", &run);
        assert_well_formed(&svg, run.len());
        for (is_x, v) in coordinates(&svg) {
            let limit = if is_x { W } else { H };
            assert!((0.0..=limit).contains(&v), "{v} outside 0..{limit}");
        }
        let lines = polylines(&svg);
        for (i, line) in lines.iter().enumerate() {
            let (top, bottom) = if i == 0 { RATE_Y } else { LATENCY_Y };
            for &(x, y) in line {
                assert!((X0..=X1).contains(&x), "x {x}");
                assert!(
                    (top..=bottom).contains(&y),
                    "series {i}: y {y} outside {top}..{bottom}"
                );
            }
        }
        // The latest second is at the right edge; a zero latency is on the bottom edge.
        assert_eq!(lines[0][3].0, X1);
        assert_eq!(lines[1][1].1, LATENCY_Y.1);
    }

    #[test]
    fn ticks_cover_the_range_in_round_steps() {
        assert_eq!(
            linear_ticks(47_000.0),
            vec![0.0, 10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0]
        );
        assert_eq!(linear_ticks(300.0), vec![0.0, 100.0, 200.0, 300.0]);
        assert_eq!(linear_ticks(15.0003), vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(label(20_000.0, 50_000.0), "20k");
        assert_eq!(decades([0.4, 25.0].into_iter()), (-1, 2));
    }
}
