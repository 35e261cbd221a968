//! Structure tests of the run's HTML picture, without a browser: the page
//! is parsed as XML and its elements are counted against the timeline it
//! was drawn from.

use redoubt_sim::report::html::render_html;
use redoubt_sim::report::timeline::{Lane, LaneKind, Mark, Span, Timeline};
use redoubt_sim::{run_seed_with, Scenario};
use roxmltree::{Document, Node, ParsingOptions};

/// The scenario and seed the tests draw: crashes under `everysec`, with
/// the faults' lanes filled.
const SCENARIO: &str = "scenarios/crash-everysec.toml";
const SEED: u64 = 42;

fn faulty_timeline() -> Timeline {
    let path = format!("{}/../{SCENARIO}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let scenario = Scenario::parse(&text).expect("valid scenario");
    let report = run_seed_with(SEED, &scenario, Some(SCENARIO), true).expect("run");
    report.timeline.expect("a timeline was asked for")
}

/// The page as an XML tree; its `<!DOCTYPE html>` is the only DTD, with
/// no entities, so allowing it lets nothing in.
fn parse(page: &str) -> Result<Document<'_>, roxmltree::Error> {
    let options = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(page, options)
}

/// The elements whose class list holds `class`.
fn with_class<'a, 'input>(root: Node<'a, 'input>, class: &str) -> Vec<Node<'a, 'input>> {
    root.descendants()
        .filter(|node| has_class(node, class))
        .collect()
}

fn has_class(node: &Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|classes| classes.split(' ').any(|c| c == class))
}

/// The text of `node`'s `<title>` child.
fn title_of(node: &Node) -> String {
    let title = node
        .children()
        .find(|child| child.has_tag_name("title"))
        .expect("every span and mark has a <title> for hovering");
    title.text().unwrap_or_default().to_string()
}

fn text_of(document: &Document, tag: &str, class: &str) -> String {
    let node = document
        .descendants()
        .find(|node| node.has_tag_name(tag) && has_class(node, class))
        .unwrap_or_else(|| panic!("the page has a <{tag} class=\"{class}\">"));
    node.descendants()
        .filter(|n| n.is_text())
        .map(|n| n.text().unwrap_or_default())
        .collect()
}

/// A real run with crashes draws a page that parses whole as XML, with one
/// lane group per lane, every span and mark, the title and the replay. The
/// page is left in cargo's tmp folder of the target, for a look.
#[test]
fn faulty_run_draws_every_lane_span_and_mark() {
    let timeline = faulty_timeline();
    let crashes = timeline.lanes[0]
        .marks
        .iter()
        .filter(|m| m.class == "crash");
    assert!(
        crashes.count() > 0,
        "seed {SEED} must crash, or the test draws nothing worth checking"
    );
    let page = render_html(&timeline);
    let _ = std::fs::write(
        format!("{}/crash-everysec-{SEED}.html", env!("CARGO_TARGET_TMPDIR")),
        &page,
    );
    let document = parse(&page).expect("the page is well-formed XML");
    let svg = document
        .descendants()
        .find(|node| node.has_tag_name("svg") && has_class(node, "timeline"))
        .expect("the page has the timeline's SVG");
    let lanes = with_class(svg, "lane");
    assert_eq!(lanes.len(), timeline.lanes.len(), "one group per lane");
    for (group, lane) in lanes.iter().zip(&timeline.lanes) {
        assert_lane_drawn(*group, lane);
    }
    assert_svg_size(svg, timeline.lanes.len());
    assert_eq!(
        text_of(&document, "h1", "title"),
        timeline.title,
        "the title heads the page"
    );
    assert_eq!(
        text_of(&document, "pre", "replay"),
        timeline.replay,
        "the replay command is shown as is"
    );
    assert!(
        timeline
            .replay
            .contains(&format!("--seed {SEED} --scenario {SCENARIO}")),
        "replays this seed"
    );
    let verdicts = with_class(document.root(), "verdicts");
    let lines = verdicts[0]
        .children()
        .filter(|n| n.has_tag_name("li"))
        .count();
    assert_eq!(lines, timeline.verdicts.len(), "one line per verdict");
}

/// `group` draws `lane`: its name, and each span and mark in order with
/// a hover title that gives its label and time.
fn assert_lane_drawn(group: Node, lane: &Lane) {
    assert_eq!(
        group.attribute("data-lane"),
        Some(lane.name.as_str()),
        "lanes in the timeline's order"
    );
    let spans = with_class(group, "span");
    let marks = with_class(group, "mark");
    assert_eq!(
        spans.len(),
        lane.spans.len(),
        "every span of {} drawn",
        lane.name
    );
    assert_eq!(
        marks.len(),
        lane.marks.len(),
        "every mark of {} drawn",
        lane.name
    );
    for (node, span) in spans.iter().zip(&lane.spans) {
        let title = title_of(node);
        let time = format!("{}\u{2013}{} ms", span.start_ms, span.end_ms);
        assert!(
            title.starts_with(&span.label) && title.contains(&time),
            "hovering {title:?} shows the span's label and {time}"
        );
    }
    for (node, mark) in marks.iter().zip(&lane.marks) {
        let title = title_of(node);
        let time = format!("at {} ms", mark.at_ms);
        assert!(
            title.contains(&mark.label) && title.ends_with(&time),
            "hovering {title:?} shows the mark's label and its time"
        );
    }
}

/// The SVG scales from a fixed 1400-unit width, and its height grows with
/// the lanes, so a page of many clients stays readable.
fn assert_svg_size(svg: Node, lane_count: usize) {
    let view_box: Vec<f64> = svg
        .attribute("viewBox")
        .expect("the SVG scales by its viewBox")
        .split(' ')
        .map(|number| number.parse().expect("a number"))
        .collect();
    assert_eq!(view_box[2], 1400.0, "a fixed width the page scales");
    let per_lane = view_box[3] / lane_count as f64;
    assert!(
        (20.0..=60.0).contains(&per_lane),
        "{per_lane} units a lane: the height follows the lane count"
    );
}

/// The axis's labelled ticks start at zero, are evenly spaced in round
/// milliseconds, stay few enough to read, and cover the run.
#[test]
fn axis_ticks_are_round_and_cover_the_run() {
    let timeline = faulty_timeline();
    let page = render_html(&timeline);
    let document = parse(&page).expect("well-formed");
    let labels: Vec<u64> = with_class(document.root(), "axis-label")
        .iter()
        .map(|node| {
            let text = node.text().expect("a tick label");
            text.strip_suffix(" ms")
                .expect("labels in ms")
                .parse()
                .expect("a number")
        })
        .collect();
    assert!(
        (3..=12).contains(&labels.len()),
        "{} ticks: too few to read time, or crowded",
        labels.len()
    );
    assert_eq!(labels[0], 0, "time starts at zero");
    let step = labels[1];
    let digits = step.to_string();
    assert!(
        ["1", "2", "5"].contains(&digits.trim_end_matches('0')),
        "step {step} ms is 1, 2 or 5 times a power of ten"
    );
    assert!(labels.windows(2).all(|w| w[1] - w[0] == step), "even steps");
    assert!(
        *labels.last().unwrap() + step > timeline.end_ms,
        "the ticks reach the run's end"
    );
}

/// A page is a pure function of its timeline: the same timeline gives the
/// same bytes.
#[test]
fn same_timeline_same_bytes() {
    let timeline = faulty_timeline();
    assert_eq!(
        render_html(&timeline),
        render_html(&timeline.clone()),
        "no hidden state in rendering"
    );
}

/// Labels from the run that hold markup (`<script>`, `&`, quotes, a
/// control character) come out as the same text, never as markup.
#[test]
fn hostile_labels_stay_text() {
    let hostile = "<script>alert(\"x&y\")</script>'&amp;";
    let timeline = hand_timeline(hostile, 0);
    let page = render_html(&timeline);
    assert!(!page.contains("<script"), "no script element can open");
    let document = parse(&page).expect("escaped labels keep the page well-formed");
    assert!(
        !document.descendants().any(|n| n.has_tag_name("script")),
        "no script element in the tree"
    );
    let lane = with_class(document.root(), "lane");
    assert_eq!(
        lane[0].attribute("data-lane"),
        Some(hostile),
        "attribute values round-trip"
    );
    let span = with_class(lane[0], "span");
    assert_eq!(
        title_of(&span[0]),
        format!("{hostile}: 10\u{2013}30 ms (20 ms)"),
        "span label round-trips"
    );
    let mark = with_class(lane[0], "mark");
    assert_eq!(
        title_of(&mark[0]),
        format!("fault: {hostile}\u{fffd} at 20 ms"),
        "mark label round-trips, its control character replaced"
    );
    assert_eq!(
        text_of(&document, "h1", "title"),
        hostile,
        "title round-trips"
    );
    assert_eq!(
        text_of(&document, "pre", "replay"),
        hostile,
        "replay round-trips"
    );
}

/// A lane whose marks were thinned says so, by name; the others do not.
#[test]
fn thinned_lane_is_noted() {
    let timeline = hand_timeline("client 0", 1234);
    let page = render_html(&timeline);
    let document = parse(&page).expect("well-formed");
    let notes = with_class(document.root(), "thinned");
    assert_eq!(notes.len(), 1, "only the thinned lane gets a note");
    assert_eq!(notes[0].attribute("data-lane"), Some("client 0"));
    let text = notes[0].text().unwrap_or_default();
    assert!(
        text.contains("1234 of its 1235 marks"),
        "the note says how many were dropped: {text:?}"
    );
    let untouched = render_html(&hand_timeline("client 0", 0));
    assert!(
        !untouched.contains("class=\"thinned\""),
        "no note when nothing was dropped"
    );
}

/// A one-lane timeline built by hand, every text set to `text`.
fn hand_timeline(text: &str, marks_dropped: usize) -> Timeline {
    let mut lane = Lane::new(text, LaneKind::Client);
    lane.spans.push(Span {
        start_ms: 10,
        end_ms: 30,
        label: text.to_string(),
        class: "connection",
    });
    lane.marks.push(Mark {
        at_ms: 20,
        label: format!("{text}\u{1}"),
        class: "fault",
    });
    lane.marks_dropped = marks_dropped;
    let empty = Lane::new("node", LaneKind::Node);
    Timeline {
        title: text.to_string(),
        end_ms: 40,
        lanes: vec![lane, empty],
        passed: false,
        verdicts: vec![format!("durable: FAIL: {text}")],
        replay: text.to_string(),
    }
}
