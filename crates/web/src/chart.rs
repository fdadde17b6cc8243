//! Server-rendered SVG charts (CON-05): no JavaScript, no external
//! resources, drawn with presentation attributes only (the content security
//! policy allows no inline styles), with a `<title>` and `<desc>` for
//! assistive technology; the page shows the same numbers as a table beside
//! the chart.

use std::fmt::Write;

/// A line chart of amounts (cents) over dates.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// Accessible name.
    pub title: String,
    /// Accessible description (the text alternative).
    pub description: String,
    /// The points: label for the x axis (shown for some points) and value.
    pub points: Vec<(String, i64)>,
    /// Index of the point to mark as "today", if any.
    pub marker: Option<usize>,
    /// Label of the marker.
    pub marker_label: String,
    /// Formats a value for the y axis.
    pub y_labels: Vec<(i64, String)>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl LineChart {
    /// The largest y value shown: the largest point or label.
    fn y_max(&self) -> i64 {
        self.points
            .iter()
            .map(|(_, v)| *v)
            .chain(self.y_labels.iter().map(|(v, _)| *v))
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// The chart as an `<svg>` element.
    pub fn to_svg(&self) -> String {
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let max = self.y_max() as f64;
        let n = self.points.len().max(2) - 1;
        let x = |i: usize| LEFT + plot_w * i as f64 / n as f64;
        let y = |v: i64| TOP + plot_h * (1.0 - v as f64 / max);
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
             aria-labelledby=\"chart-title chart-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
             <title id=\"chart-title\">{}</title><desc id=\"chart-desc\">{}</desc>",
            escape(&self.title),
            escape(&self.description)
        );
        // Grid lines and y labels.
        for (value, label) in &self.y_labels {
            let gy = y(*value);
            let _ = write!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#d0d4da\" stroke-width=\"1\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"#333\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 8.0,
                gy + 4.0,
                escape(label)
            );
        }
        // Axes.
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#333\" stroke-width=\"1\"/>\
             <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\" stroke-width=\"1\"/>",
            TOP + plot_h,
            TOP + plot_h,
            WIDTH - RIGHT,
            TOP + plot_h
        );
        // X labels: about six, evenly spread.
        let step = (self.points.len() / 6).max(1);
        for (i, (label, _)) in self.points.iter().enumerate() {
            if i % step == 0 || i + 1 == self.points.len() {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\">{}</text>",
                    x(i),
                    HEIGHT - BOTTOM + 18.0,
                    escape(label)
                );
            }
        }
        // The line.
        let path: Vec<String> = self
            .points
            .iter()
            .enumerate()
            .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#0b5cad\" stroke-width=\"2.5\"/>",
            path.join(" ")
        );
        // Today: a dashed vertical line with a text label (not colour alone).
        if let Some(i) = self.marker.filter(|i| *i < self.points.len()) {
            let mx = x(i);
            let _ = write!(
                svg,
                "<line x1=\"{mx:.1}\" y1=\"{TOP}\" x2=\"{mx:.1}\" y2=\"{:.1}\" stroke=\"#a33\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#a33\">{}</text>",
                TOP + plot_h,
                mx + 4.0,
                TOP + 12.0,
                escape(&self.marker_label)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Round y-axis steps for a maximum in cents: 0 and four steps of 1, 2 or
/// 5 × a power of ten euros.
pub fn y_steps(max_cents: i64) -> Vec<i64> {
    let max = max_cents.max(100);
    let raw = max / 4;
    let mut unit: i64 = 100;
    while unit.saturating_mul(10) <= raw {
        unit = unit.saturating_mul(10);
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|f| unit.saturating_mul(f))
        .find(|s| s.saturating_mul(4) >= max)
        .unwrap_or(unit.saturating_mul(10));
    (0..=4).map(|k| step * k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_cover_the_maximum_with_round_numbers() {
        let steps = y_steps(2_345_678);
        assert_eq!(steps.first(), Some(&0));
        assert!(*steps.last().unwrap_or(&0) >= 2_345_678, "{steps:?}");
        assert_eq!(steps[1], 1_000_000, "{steps:?}");
    }

    #[test]
    fn svg_escapes_labels_and_has_a_text_alternative() {
        let chart = LineChart {
            title: "Debt <over> time".into(),
            description: "From € 10 to € 0".into(),
            points: vec![("a&b".into(), 1000), ("c".into(), 0)],
            marker: Some(1),
            marker_label: "today".into(),
            y_labels: vec![(0, "0".into()), (1000, "10".into())],
        };
        let svg = chart.to_svg();
        assert!(svg.contains("<title id=\"chart-title\">Debt &lt;over&gt; time</title>"));
        assert!(svg.contains("a&amp;b"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("today"));
        assert!(!svg.contains("style="), "CSP allows no inline styles");
    }
}
