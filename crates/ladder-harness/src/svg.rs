//! Small SVG charts for bench reports: a labelled scatter plot with vertical intervals,
//! lines with a legend, and grouped bars with intervals. Hand-written SVG (no plotting crate: the build stays lean,
//! and the output is plain text that a snapshot test can compare).

/// One point of a scatter chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub x: f64,
    pub y: f64,
    /// The interval of `y` (e.g. a Wilson interval), drawn as a whisker.
    pub low: f64,
    pub high: f64,
    /// Drawn filled (e.g. on the cost frontier) rather than hollow.
    pub highlight: bool,
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A tidy upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn frame(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_max: f64,
    y_max: f64,
    x_fmt: impl Fn(f64) -> String,
) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        W / 2.0,
        escape(title)
    );
    let (x0, y0, x1, y1) = (LEFT, H - BOTTOM, W - RIGHT, TOP);
    s.push_str(&format!(
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"black\"/>\n<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>\n"
    ));
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let x = x0 + f * (x1 - x0);
        let y = y0 - f * (y0 - y1);
        s.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            y0 + 5.0,
            y0 + 18.0,
            escape(&x_fmt(f * x_max))
        ));
        s.push_str(&format!(
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{x0}\" y2=\"{y:.1}\" stroke=\"black\"/><line x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\" stroke=\"#eeeeee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.2}</text>\n",
            x0 - 5.0,
            x0 - 8.0,
            y + 4.0,
            f * y_max
        ));
    }
    s.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n<text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">{}</text>\n",
        (x0 + x1) / 2.0,
        H - 18.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    ));
    s
}

/// A scatter chart of labelled points (y in 0..=1, a rate) with interval whiskers. With
/// `connect_highlighted`, the highlighted points are joined in x order (a frontier).
pub fn scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[Point],
    connect_highlighted: bool,
) -> String {
    let x_max = nice_max(points.iter().map(|p| p.x).fold(0.0, f64::max) * 1.1);
    let y_max = 1.0;
    let fmt = |v: f64| {
        if x_max >= 10.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let mut s = frame(title, x_label, y_label, x_max, y_max, fmt);
    let px = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let py = |y: f64| (H - BOTTOM) - y.clamp(0.0, 1.0) / y_max * (H - BOTTOM - TOP);
    if connect_highlighted {
        let mut hi: Vec<&Point> = points.iter().filter(|p| p.highlight).collect();
        hi.sort_by(|a, b| a.x.total_cmp(&b.x));
        if hi.len() > 1 {
            let path: Vec<String> = hi
                .iter()
                .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.y)))
                .collect();
            s.push_str(&format!(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-dasharray=\"4 3\"/>\n",
                path.join(" ")
            ));
        }
    }
    for p in points {
        let (x, y) = (px(p.x), py(p.y));
        s.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#555555\"/>\n<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n<text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            py(p.low),
            py(p.high),
            if p.highlight { "#1f77b4" } else { "white" },
            x + 8.0,
            y - 6.0,
            escape(&p.label)
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// Lines: each series a polyline of `(x, y)` points with markers, y from 0 to a tidy bound
/// above the largest value, and a legend (for counts per generation: user turns, tokens).
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let x_max = nice_max(all.clone().map(|p| p.0).fold(0.0, f64::max));
    let y_max = nice_max(all.map(|p| p.1).fold(0.0, f64::max) * 1.1);
    let mut s = frame(title, x_label, y_label, x_max, y_max, |v| format!("{v:.1}"));
    let px = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let py = |y: f64| (H - BOTTOM) - y.clamp(0.0, y_max) / y_max * (H - BOTTOM - TOP);
    let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    ];
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = palette[i % palette.len()];
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        s.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
            path.join(" ")
        ));
        for p in points {
            s.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\"/>\n",
                px(p.0),
                py(p.1)
            ));
        }
        let ly = TOP + 14.0 * i as f64;
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            W - RIGHT - 150.0,
            ly - 9.0,
            W - RIGHT - 136.0,
            ly,
            escape(name)
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// Grouped bars: for each group (a suite), one bar per series (a strategy), each a rate in
/// 0..=1 with an interval.
pub fn grouped_bars(
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[String],
    value: impl Fn(&str, &str) -> Option<(f64, f64, f64)>,
) -> String {
    let mut s = frame(title, "", y_label, 1.0, 1.0, |_| String::new());
    let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    let plot_w = W - LEFT - RIGHT;
    let group_w = plot_w / groups.len().max(1) as f64;
    let bar_w = (group_w * 0.8) / series.len().max(1) as f64;
    let py = |y: f64| (H - BOTTOM) - y.clamp(0.0, 1.0) * (H - BOTTOM - TOP);
    for (g, group) in groups.iter().enumerate() {
        let gx = LEFT + g as f64 * group_w + group_w * 0.1;
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            gx + group_w * 0.4,
            H - BOTTOM + 32.0,
            escape(group)
        ));
        for (k, name) in series.iter().enumerate() {
            let Some((v, lo, hi)) = value(group, name) else {
                continue;
            };
            let x = gx + k as f64 * bar_w;
            let colour = palette[k % palette.len()];
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{} {}: {v:.2}</title></rect>\n<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\n",
                py(v),
                (bar_w - 2.0).max(1.0),
                (H - BOTTOM) - py(v),
                escape(group),
                escape(name),
                x + bar_w / 2.0,
                py(lo),
                x + bar_w / 2.0,
                py(hi)
            ));
        }
    }
    for (k, name) in series.iter().enumerate() {
        let y = TOP + 14.0 * k as f64;
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            W - RIGHT - 150.0,
            y,
            palette[k % palette.len()],
            W - RIGHT - 136.0,
            y + 9.0,
            escape(name)
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_text_is_escaped() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.2), 5.0);
        assert_eq!(nice_max(1200.0), 2000.0);
        let svg = scatter(
            "a < b",
            "x",
            "y",
            &[Point {
                label: "s&p".into(),
                x: 1.0,
                y: 0.5,
                low: 0.2,
                high: 0.8,
                highlight: true,
            }],
            true,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt; b") && svg.contains("s&amp;p"));
    }
}
