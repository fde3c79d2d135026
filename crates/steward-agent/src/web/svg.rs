//! Plots drawn on the server as SVG: no charting library, no JavaScript.

use std::fmt::Write;

use steward_core::{Decision, DecisionAction};

const W: f64 = 480.0;
const H: f64 = 320.0;
const PAD: f64 = 40.0;

fn frame(title: &str, x_label: &str, y_label: &str) -> String {
    frame_x(title, x_label, y_label, 1.0)
}

/// A frame whose x axis runs from 0 to `x_max` (the y axis always 0 to 1).
fn frame_x(title: &str, x_label: &str, y_label: &str, x_max: f64) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\"><rect width=\"{W}\" height=\"{H}\" fill=\"#fff\"/><text x=\"{}\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
        W / 2.0,
        super::pages::esc(title)
    );
    let (x0, y0, x1, y1) = (PAD, H - PAD, W - 10.0, 24.0);
    let _ = write!(
        s,
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#333\"/><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"#333\"/>"
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let x = x0 + f * (x1 - x0);
        let y = y0 - f * (y0 - y1);
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{:.2}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{f:.2}</text>",
            y0 + 14.0,
            f * x_max,
            x0 - 4.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        H - 6.0,
        super::pages::esc(x_label),
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        super::pages::esc(y_label)
    );
    s
}

fn to_px(x: f64, y: f64) -> (f64, f64) {
    let (x0, y0, x1, y1) = (PAD, H - PAD, W - 10.0, 24.0);
    (
        x0 + x.clamp(0.0, 1.0) * (x1 - x0),
        y0 - y.clamp(0.0, 1.0) * (y0 - y1),
    )
}

/// Decisions by confidence (x) and importance (y), coloured by action.
pub(crate) fn decisions_scatter(ds: &[(i64, Decision)]) -> String {
    let mut s = frame(
        "Decisions by confidence and importance",
        "confidence",
        "importance",
    );
    for (id, d) in ds {
        let (x, y) = to_px(d.confidence, d.importance);
        let colour = match d.action {
            DecisionAction::Vote => "#2e8b57",
            DecisionAction::Ask => "#e0a000",
            DecisionAction::Skip => "#999",
        };
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\" fill-opacity=\"0.8\"><title>#{id} {} {}</title></circle>",
            d.action.as_str(),
            super::pages::esc(&d.title)
        );
    }
    let _ = write!(
        s,
        "<g transform=\"translate({},{})\"><circle r=\"4\" fill=\"#2e8b57\"/><text x=\"8\" y=\"4\">vote</text><circle cy=\"14\" r=\"4\" fill=\"#e0a000\"/><text x=\"8\" y=\"18\">ask</text><circle cy=\"28\" r=\"4\" fill=\"#999\"/><text x=\"8\" y=\"32\">skip</text></g></svg>",
        W - 70.0,
        36.0
    );
    s
}

/// A reliability diagram: predicted confidence per bin (x) against observed accuracy (y), with
/// the diagonal of perfect calibration. `bins` are `(mean confidence, accuracy, count)`.
pub(crate) fn reliability(bins: &[(f64, f64, usize)]) -> String {
    let mut s = frame("Reliability", "predicted confidence", "observed accuracy");
    let (a, b) = (to_px(0.0, 0.0), to_px(1.0, 1.0));
    let _ = write!(
        s,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>",
        a.0, a.1, b.0, b.1
    );
    let mut path = String::new();
    for (conf, acc, n) in bins.iter().filter(|b| b.2 > 0) {
        let (x, y) = to_px(*conf, *acc);
        let _ = write!(
            path,
            "{}{x:.1},{y:.1}",
            if path.is_empty() { "M" } else { " L" }
        );
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\" fill=\"#3b6fd8\"><title>{n} predictions</title></circle>",
            (2.0 + (*n as f64).ln()).clamp(2.0, 8.0)
        );
    }
    let _ = write!(
        s,
        "<path d=\"{path}\" fill=\"none\" stroke=\"#3b6fd8\"/></svg>"
    );
    s
}

/// Agreement with the real votes over time: one point per time slice (x: slice, y: accuracy).
pub(crate) fn over_time(slices: &[(f64, usize)]) -> String {
    let mut s = frame(
        "Agreement over time",
        "time (test slices, oldest first)",
        "accuracy",
    );
    let k = slices.len().max(2) - 1;
    let mut path = String::new();
    for (i, (acc, n)) in slices.iter().enumerate() {
        let (x, y) = to_px(i as f64 / k as f64, *acc);
        let _ = write!(
            path,
            "{}{x:.1},{y:.1}",
            if path.is_empty() { "M" } else { " L" }
        );
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#2e8b57\"><title>{n} votes, {:.0}% right</title></circle>",
            acc * 100.0
        );
    }
    let _ = write!(
        s,
        "<path d=\"{path}\" fill=\"none\" stroke=\"#2e8b57\"/></svg>"
    );
    s
}

/// One point of the attention curve: (share asked, agreement on votes cast, coverage, Against
/// caught).
type CurvePoint = (f64, f64, f64, f64);

/// A series of the curve: its name, colour and which value of a point it draws.
type Series = (&'static str, &'static str, fn(&CurvePoint) -> f64);

/// The attention curve of `eval --ask-curve`: at each share of proposals asked (x), the
/// agreement on the votes cast without a question, the coverage over all proposals, and the
/// share of the user's Against votes caught (predicted or asked).
pub(crate) fn attention_curve(points: &[CurvePoint]) -> String {
    let x_max = points.iter().map(|p| p.0).fold(0.2_f64, f64::max).min(1.0);
    let mut s = frame_x(
        "Attention curve",
        "share of proposals asked",
        "agreement / coverage / Against caught",
        x_max,
    );
    let series: [Series; 3] = [
        ("agreement on votes cast", "#3b6fd8", |p| p.1),
        ("coverage", "#2e8b57", |p| p.2),
        ("Against caught", "#c0392b", |p| p.3),
    ];
    for (k, (name, colour, y)) in series.iter().enumerate() {
        let mut path = String::new();
        for p in points {
            let (px, py) = to_px(p.0 / x_max, y(p));
            let _ = write!(
                path,
                "{}{px:.1},{py:.1}",
                if path.is_empty() { "M" } else { " L" }
            );
            let _ = write!(
                s,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{colour}\"><title>{name}: {:.3} at {:.0}% asked</title></circle>",
                y(p),
                p.0 * 100.0
            );
        }
        let _ = write!(
            s,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\"/><text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>",
            PAD + 8.0,
            H - PAD - 12.0 - 14.0 * k as f64
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attention_curve_draws_one_point_per_budget_and_series() {
        let pts = [
            (0.0, 0.92, 0.30, 0.40),
            (0.05, 0.93, 0.31, 0.45),
            (0.1, 0.94, 0.32, 0.5),
        ];
        let svg = attention_curve(&pts);
        assert_eq!(svg.matches("<circle").count(), 9);
        assert_eq!(svg.matches("<path").count(), 3);
        assert!(svg.contains("at 10% asked"), "{svg}");
        assert!(svg.ends_with("</svg>"));
        // An empty curve is an empty frame, not a panic.
        assert!(attention_curve(&[]).ends_with("</svg>"));
    }
}
