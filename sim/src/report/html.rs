//! The run's [`Timeline`] as one self-contained HTML page (`run --html`):
//! a header with the title, the replay command and the verdicts; an inline
//! SVG with a time axis in simulated milliseconds and one row per lane, its
//! spans as bars and its marks as ticks (replies) or diamonds (the rest),
//! each with a `<title>` that hovering shows; a legend of the classes drawn;
//! and a note on the lanes whose marks were thinned.
//!
//! Promises: no external script, font or stylesheet; the page is
//! well-formed XML (XHTML, so an XML parser can check it whole); every text
//! that comes from the run is escaped, and characters XML forbids become
//! U+FFFD; the same timeline gives the same bytes.
//!
//! The structure tests rely on: one `<g class="lane" data-lane="NAME">` per
//! lane, in the timeline's order; within it one element whose class starts
//! with `span` per span and one whose class starts with `mark` per mark,
//! each with one `<title>` child; `<h1 class="title">`,
//! `<pre class="replay">`, `<ul class="verdicts">`, `<ul class="legend">`,
//! and one `<li class="thinned" data-lane="NAME">` per thinned lane.

use std::fmt::Write;

use super::timeline::{Lane, Mark, Span, Timeline};

/// Width of the SVG's coordinate system; the page scales it to fit.
const SVG_WIDTH_PX: f64 = 1400.0;
/// Left edge of the plot: the lane names sit left of it.
const PLOT_LEFT_PX: f64 = 130.0;
/// Room right of the plot, so the last tick label is not clipped.
const PLOT_RIGHT_MARGIN_PX: f64 = 40.0;
/// Height of the time axis above the first lane.
const AXIS_HEIGHT_PX: f64 = 34.0;
/// Height of one lane's row.
const LANE_HEIGHT_PX: f64 = 30.0;
/// Room below the last lane.
const BOTTOM_MARGIN_PX: f64 = 8.0;
/// Height of a span's bar, centred in its row.
const SPAN_HEIGHT_PX: f64 = 16.0;
/// Narrowest bar: a two-millisecond connection or an immediate restart's
/// down time still shows through the bars' white outline.
const SPAN_WIDTH_MIN_PX: f64 = 2.0;
/// Height of a `quiet` span: a thin band under the bars, since it overlaps
/// the node's lives.
const BAND_HEIGHT_PX: f64 = 4.0;
/// Half the width of a diamond mark.
const DIAMOND_RADIUS_PX: f64 = 6.0;
/// Height of a reply's tick, in the lower half of its connection's bar so
/// the bar stays visible under many replies.
const TICK_HEIGHT_PX: f64 = 8.0;
/// Distance between marks at one moment that are set side by side.
const MARK_SPREAD_PX: f64 = 11.0;
/// Most marks at one moment that are set side by side; a larger bunch is
/// drawn in place, since spreading it would move marks far from their time.
const MARKS_SIDE_BY_SIDE_MAX: usize = 16;
/// Most labelled ticks on the time axis; the step is the smallest
/// 1, 2 or 5 times a power of ten that stays within it.
const AXIS_TICKS_MAX: u64 = 12;

/// Span classes the page styles, in the legend's order.
const SPAN_CLASSES: [&str; 7] = [
    "up",
    "down",
    "paused",
    "quiet",
    "disk-full",
    "slow",
    "connection",
];
/// Mark classes the page styles, in the legend's order.
const MARK_CLASSES: [&str; 8] = [
    "crash",
    "restart",
    "fault",
    "reply",
    "error",
    "disk-error",
    "pass",
    "fail",
];

/// The page's only style sheet. No `<` or `&` in it, so it stays
/// well-formed XML as plain text.
const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 16px 24px; color: #1f2933; background: #ffffff; }
h1.title { font-size: 20px; margin: 0 0 8px; }
h1.title.pass { color: #1b5e20; }
h1.title.fail { color: #b71c1c; }
h2 { font-size: 15px; margin: 14px 0 4px; }
pre.replay { background: #f1f3f5; padding: 6px 10px; border-radius: 4px; overflow-x: auto; font-size: 13px; }
ul.verdicts { margin: 4px 0 12px; padding-left: 20px; font-size: 13px; font-family: ui-monospace, monospace; }
ul.verdicts li.fail { color: #b71c1c; font-weight: 600; }
svg.timeline { display: block; width: 100%; max-width: 1400px; height: auto; border: 1px solid #e1e4e8; }
svg.timeline text { font-size: 12px; fill: #323f4b; }
.stripe { fill: #f5f7fa; }
.grid { stroke: #d9dee4; stroke-width: 1; }
.axis-line { stroke: #7b8794; stroke-width: 1; }
.axis-label { text-anchor: middle; }
.lane-name { text-anchor: end; font-weight: 600; }
svg.timeline text.lane-empty { fill: #9aa5b1; font-style: italic; }
.span { stroke: #ffffff; stroke-width: 0.75; }
.span:hover, .mark:hover { stroke: #000000; }
.up { fill: #a5d6a7; }
.down { fill: #ef9a9a; }
.paused { fill: #ffe082; }
.quiet { fill: #64b5f6; }
.disk-full { fill: #ce93d8; }
.slow { fill: #ffcc80; }
.connection { fill: #b0c4de; }
.other { fill: #cfd8dc; }
.mark { stroke: #ffffff; stroke-width: 0.75; }
.mark.reply { stroke: #1f3a5f; stroke-width: 1; opacity: 0.45; }
.crash { fill: #c62828; }
.restart { fill: #2e7d32; }
.fault { fill: #ef6c00; }
.error { fill: #6a1b9a; }
.disk-error { fill: #8e24aa; }
.pass { fill: #43a047; }
.fail { fill: #d50000; }
ul.legend { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 13px; }
ul.legend svg { vertical-align: middle; margin-right: 4px; }
ul.notes { font-size: 13px; padding-left: 20px; }
p.hint { font-size: 13px; color: #52606d; }
";

/// Maps simulated time to the SVG's x axis and lanes to its rows.
struct Scale {
    end_ms: u64,
    lane_count: usize,
}

impl Scale {
    fn new(timeline: &Timeline) -> Self {
        Scale {
            end_ms: timeline.end_ms.max(1),
            lane_count: timeline.lanes.len(),
        }
    }

    fn plot_right(&self) -> f64 {
        SVG_WIDTH_PX - PLOT_RIGHT_MARGIN_PX
    }

    /// The x of a moment; moments past the end sit at the end.
    fn x(&self, at_ms: u64) -> f64 {
        let fraction = at_ms.min(self.end_ms) as f64 / self.end_ms as f64;
        PLOT_LEFT_PX + fraction * (self.plot_right() - PLOT_LEFT_PX)
    }

    /// The y of the top of lane `index`'s row.
    fn lane_top(&self, index: usize) -> f64 {
        AXIS_HEIGHT_PX + index as f64 * LANE_HEIGHT_PX
    }

    fn height(&self) -> f64 {
        self.lane_top(self.lane_count) + BOTTOM_MARGIN_PX
    }
}

/// The whole page for `timeline`, as XHTML that browsers read as HTML.
pub fn render_html(timeline: &Timeline) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n");
    out.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n");
    let _ = write!(
        out,
        "<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n",
        escape(&timeline.title)
    );
    out.push_str("<body>\n");
    render_header(&mut out, timeline);
    render_svg(&mut out, timeline);
    render_legend(&mut out, timeline);
    render_notes(&mut out, timeline);
    out.push_str("</body>\n</html>\n");
    out
}

/// The title, the replay command and the verdict lines.
fn render_header(out: &mut String, timeline: &Timeline) {
    let outcome = if timeline.passed { "pass" } else { "fail" };
    let _ = writeln!(
        out,
        "<h1 class=\"title {outcome}\">{}</h1>",
        escape(&timeline.title)
    );
    out.push_str("<h2>Replay</h2>\n");
    let _ = writeln!(
        out,
        "<pre class=\"replay\"><code>{}</code></pre>",
        escape(&timeline.replay)
    );
    out.push_str("<h2>Verdicts</h2>\n<ul class=\"verdicts\">\n");
    for line in &timeline.verdicts {
        let _ = writeln!(
            out,
            "<li class=\"{}\">{}</li>",
            verdict_class(line),
            escape(line)
        );
    }
    out.push_str("</ul>\n");
}

/// `fail` for a verdict line whose state (its second field, as
/// `name: FAIL: summary`) is FAIL, else `pass`; only colours the line.
fn verdict_class(line: &str) -> &'static str {
    match line.split(": ").nth(1) {
        Some("FAIL") => "fail",
        _ => "pass",
    }
}

/// The SVG: the axis and its grid, then one group per lane.
fn render_svg(out: &mut String, timeline: &Timeline) {
    let scale = Scale::new(timeline);
    let height = scale.height();
    out.push_str("<h2>Timeline (simulated time)</h2>\n");
    let _ = writeln!(
        out,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{SVG_WIDTH_PX:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {SVG_WIDTH_PX:.0} {height:.0}\">"
    );
    for index in (0..timeline.lanes.len()).step_by(2) {
        let _ = writeln!(
            out,
            "<rect class=\"stripe\" x=\"0\" y=\"{:.1}\" width=\"{SVG_WIDTH_PX:.0}\" height=\"{LANE_HEIGHT_PX:.1}\"/>",
            scale.lane_top(index)
        );
    }
    render_axis(out, &scale);
    for (index, lane) in timeline.lanes.iter().enumerate() {
        render_lane(out, &scale, index, lane);
    }
    out.push_str("</svg>\n");
}

/// The time axis along the top, with a grid line per tick down the lanes.
fn render_axis(out: &mut String, scale: &Scale) {
    let step_ms = tick_step_ms(scale.end_ms);
    let axis_y = AXIS_HEIGHT_PX - 4.0;
    let bottom = scale.lane_top(scale.lane_count);
    out.push_str("<g class=\"axis\">\n");
    let _ = writeln!(
        out,
        "<line class=\"axis-line\" x1=\"{PLOT_LEFT_PX:.1}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\"/>",
        scale.plot_right()
    );
    let mut at_ms = 0;
    while at_ms <= scale.end_ms {
        let x = scale.x(at_ms);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>",
            axis_y - 4.0
        );
        let _ = writeln!(
            out,
            "<text class=\"axis-label\" x=\"{x:.1}\" y=\"{:.1}\">{at_ms} ms</text>",
            axis_y - 10.0
        );
        at_ms += step_ms;
    }
    out.push_str("</g>\n");
}

/// The step between labelled ticks: the smallest 1, 2 or 5 times a power
/// of ten that puts at most [`AXIS_TICKS_MAX`] steps in `end_ms`.
fn tick_step_ms(end_ms: u64) -> u64 {
    let mut power = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * power;
            if end_ms / step < AXIS_TICKS_MAX {
                return step;
            }
        }
        power *= 10;
    }
}

/// One lane's group: its name, its spans, then its marks on top.
fn render_lane(out: &mut String, scale: &Scale, index: usize, lane: &Lane) {
    let top = scale.lane_top(index);
    let name = escape(&lane.name);
    let _ = writeln!(
        out,
        "<g class=\"lane\" data-lane=\"{name}\" data-kind=\"{}\">",
        lane.kind.name()
    );
    let _ = writeln!(
        out,
        "<text class=\"lane-name\" x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
        PLOT_LEFT_PX - 10.0,
        top + LANE_HEIGHT_PX / 2.0 + 4.0
    );
    if lane.spans.is_empty() && lane.marks.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"lane-empty\" x=\"{:.1}\" y=\"{:.1}\">nothing recorded</text>",
            PLOT_LEFT_PX + 6.0,
            top + LANE_HEIGHT_PX / 2.0 + 4.0
        );
    }
    for span in &lane.spans {
        render_span(out, scale, top, span);
    }
    let positions = mark_positions(&lane.marks, scale);
    for (mark, x) in lane.marks.iter().zip(positions) {
        render_mark(out, top, x, mark);
    }
    out.push_str("</g>\n");
}

/// A span's bar, at least [`SPAN_WIDTH_MIN_PX`] wide so a zero-length one
/// still shows.
fn render_span(out: &mut String, scale: &Scale, lane_top: f64, span: &Span) {
    let x = scale.x(span.start_ms);
    let width = (scale.x(span.end_ms) - x).max(SPAN_WIDTH_MIN_PX);
    let (y, height) = if span.class == "quiet" {
        (
            lane_top + LANE_HEIGHT_PX - BAND_HEIGHT_PX - 1.0,
            BAND_HEIGHT_PX,
        )
    } else {
        (
            lane_top + (LANE_HEIGHT_PX - SPAN_HEIGHT_PX) / 2.0,
            SPAN_HEIGHT_PX,
        )
    };
    let _ = writeln!(
        out,
        "<rect class=\"span {}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\">\
         <title>{}: {}\u{2013}{} ms ({} ms)</title></rect>",
        style_class(span.class, &SPAN_CLASSES),
        escape(&span.label),
        span.start_ms,
        span.end_ms,
        span.end_ms.saturating_sub(span.start_ms)
    );
}

/// A mark: a tick for a reply (they are many), a diamond for the rest.
fn render_mark(out: &mut String, lane_top: f64, x: f64, mark: &Mark) {
    let middle = lane_top + LANE_HEIGHT_PX / 2.0;
    let class = style_class(mark.class, &MARK_CLASSES);
    let title = format!(
        "<title>{}: {} at {} ms</title>",
        escape(mark.class),
        escape(&mark.label),
        mark.at_ms
    );
    if mark.class == "reply" {
        let _ = writeln!(
            out,
            "<line class=\"mark {class}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\">{title}</line>",
            middle + 1.0,
            middle + 1.0 + TICK_HEIGHT_PX
        );
    } else {
        let radius = DIAMOND_RADIUS_PX;
        let _ = writeln!(
            out,
            "<polygon class=\"mark {class}\" points=\"{x:.1},{:.1} {:.1},{middle:.1} {x:.1},{:.1} {:.1},{middle:.1}\">{title}</polygon>",
            middle - radius,
            x + radius,
            middle + radius,
            x - radius
        );
    }
}

/// Where each mark is drawn: at its moment, except that a few diamonds
/// at the very same moment (a crash and an immediate restart, the verdicts
/// at the end) are set side by side, in their order, so each can be seen
/// and hovered. Larger bunches stay where they are: spreading them would
/// move marks far from their moment.
fn mark_positions(marks: &[Mark], scale: &Scale) -> Vec<f64> {
    let mut positions: Vec<f64> = marks.iter().map(|mark| scale.x(mark.at_ms)).collect();
    let mut diamonds: Vec<usize> = (0..marks.len())
        .filter(|&index| marks[index].class != "reply")
        .collect();
    diamonds.sort_by_key(|&index| (marks[index].at_ms, index));
    let same_moment = |&a: &usize, &b: &usize| marks[a].at_ms == marks[b].at_ms;
    for bunch in diamonds.chunk_by(same_moment) {
        if bunch.len() < 2 || bunch.len() > MARKS_SIDE_BY_SIDE_MAX {
            continue;
        }
        let width = (bunch.len() - 1) as f64 * MARK_SPREAD_PX;
        let start = (positions[bunch[0]] - width / 2.0)
            .min(scale.plot_right() - width)
            .max(PLOT_LEFT_PX);
        for (offset, &index) in bunch.iter().enumerate() {
            positions[index] = start + offset as f64 * MARK_SPREAD_PX;
        }
    }
    positions
}

/// The classes the timeline uses, with a swatch each: the known ones in
/// the legend's order, then any other, by first use.
fn render_legend(out: &mut String, timeline: &Timeline) {
    let spans = classes_used(
        timeline
            .lanes
            .iter()
            .flat_map(|lane| lane.spans.iter().map(|span| span.class)),
    );
    let marks = classes_used(
        timeline
            .lanes
            .iter()
            .flat_map(|lane| lane.marks.iter().map(|mark| mark.class)),
    );
    out.push_str("<h2>Legend</h2>\n<ul class=\"legend\">\n");
    for class in ordered(&spans, &SPAN_CLASSES) {
        let style = style_class(class, &SPAN_CLASSES);
        let _ = writeln!(
            out,
            "<li data-class=\"{}\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"22\" height=\"12\">\
             <rect class=\"span {style}\" x=\"0\" y=\"1\" width=\"22\" height=\"10\"/></svg>{} (span)</li>",
            escape(class),
            escape(class)
        );
    }
    for class in ordered(&marks, &MARK_CLASSES) {
        let style = style_class(class, &MARK_CLASSES);
        let shape = if class == "reply" {
            format!("<line class=\"mark {style}\" x1=\"6\" y1=\"0\" x2=\"6\" y2=\"12\"/>")
        } else {
            format!("<polygon class=\"mark {style}\" points=\"6,0 12,6 6,12 0,6\"/>")
        };
        let _ = writeln!(
            out,
            "<li data-class=\"{}\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"12\" height=\"12\">{shape}</svg>{} (mark)</li>",
            escape(class),
            escape(class)
        );
    }
    out.push_str("</ul>\n");
    out.push_str(
        "<p class=\"hint\">Hover a bar or a mark for its label and time. \
         Marks at the same moment are drawn side by side.</p>\n",
    );
}

/// The distinct classes of `classes`, in order of first use.
fn classes_used<'a>(classes: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut used: Vec<&str> = Vec::new();
    for class in classes {
        if !used.contains(&class) {
            used.push(class);
        }
    }
    used
}

/// `used`, the classes of `known` first in its order, then the rest.
fn ordered<'a>(used: &[&'a str], known: &[&'a str]) -> Vec<&'a str> {
    let mut result: Vec<&str> = known
        .iter()
        .copied()
        .filter(|class| used.contains(class))
        .collect();
    result.extend(used.iter().filter(|class| !known.contains(class)));
    result
}

/// The lanes whose marks were thinned, and by how many.
fn render_notes(out: &mut String, timeline: &Timeline) {
    let thinned: Vec<&Lane> = timeline
        .lanes
        .iter()
        .filter(|lane| lane.marks_dropped > 0)
        .collect();
    if thinned.is_empty() {
        return;
    }
    out.push_str("<h2>Thinned lanes</h2>\n<ul class=\"notes\">\n");
    for lane in thinned {
        let name = escape(&lane.name);
        let _ = writeln!(
            out,
            "<li class=\"thinned\" data-lane=\"{name}\">{name}: {} of its {} marks left out, \
             evenly, to keep the page light; {} drawn</li>",
            lane.marks_dropped,
            lane.marks_dropped + lane.marks.len(),
            lane.marks.len()
        );
    }
    out.push_str("</ul>\n");
}

/// The style class for a timeline class: itself when the page styles it,
/// else `other`, so a new class never injects CSS or breaks an attribute.
fn style_class(class: &'static str, known: &[&'static str]) -> &'static str {
    if known.contains(&class) {
        class
    } else {
        "other"
    }
}

/// `text` made safe as XML/HTML text and as a quoted attribute value; the
/// characters XML 1.0 forbids (most control characters) become U+FFFD.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => escaped.push('\u{fffd}'),
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The axis step is a round number that gives a readable count of
    /// ticks for short and long runs alike.
    #[test]
    fn tick_step_is_round_and_bounded() {
        for (end_ms, step_ms) in [
            (1, 1),
            (11, 1),
            (12, 2),
            (100, 10),
            (9_000, 1_000),
            (12_345, 2_000),
            (60_000, 10_000),
            (1_000_000, 100_000),
        ] {
            assert_eq!(tick_step_ms(end_ms), step_ms, "step for {end_ms} ms");
        }
        for end_ms in 1..5_000 {
            let ticks = end_ms / tick_step_ms(end_ms) + 1;
            assert!(
                ticks <= AXIS_TICKS_MAX,
                "{ticks} ticks for {end_ms} ms crowd the axis"
            );
        }
    }

    /// Escaping leaves nothing that markup could read, and replaces what
    /// XML forbids.
    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape("<a href='x'>&\"\u{1}</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\u{fffd}&lt;/a&gt;"
        );
    }
}
